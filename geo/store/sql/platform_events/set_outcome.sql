UPDATE platform_message SET outcome = :outcome WHERE id = :id

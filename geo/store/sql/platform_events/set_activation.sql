UPDATE platform_event SET policy_id = :policy, activation_id = :activation WHERE id = :id

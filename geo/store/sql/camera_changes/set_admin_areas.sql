-- A moved camera's 시군구 and 읍면동, located again.
UPDATE camera
SET sigungu_code = :sigungu_code, sigungu_name = :sigungu_name, emd_code = :emd_code,
    emd_name = :emd_name
WHERE id = :id

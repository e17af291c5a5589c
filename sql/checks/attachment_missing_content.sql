-- Case attachments whose content is missing: no bytes in the database and no file on the share.
-- Why it matters: the Customer Files page lists the file, but opening it fails; the document
--   (a signed contract, a quote) is lost unless it is found and restored.
-- Post-check: share_file (the rows returned are those without bytes; a row is kept only when
--   its file_path names no readable file under the share_root setting).
-- Parameters: none.
-- Indexes relied on: none (one pass over case_attachment, the bytes are not read).
SELECT
    ca.file_id AS file_id,
    ca.file_name AS file_name,
    cr.case_no AS case_no,
    cu.account_no AS account_no,
    ca.uploaded_date AS uploaded_date,
    {% if mapped('case_attachment', 'file_path') %}ca.file_path{% else %}NULL{% endif %} AS file_path
FROM case_attachment ca
LEFT JOIN crm_case cr ON cr.case_id = ca.case_id
LEFT JOIN customer cu ON cu.customer_id = ca.customer_id
{% if mapped('case_attachment', 'content') %}WHERE ca.content IS NULL
{% endif %}ORDER BY ca.file_id

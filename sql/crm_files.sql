-- Purpose: the Customer Files grid: every case attachment of one customer, open or closed case.
-- Parameters: :customer_id
-- Indexes: case_attachment(customer_id), crm_case primary key
SELECT
    a.file_id,
    a.file_name,
    cc.case_no,
    cc.subject AS case_subject,
    cc.status AS case_status,
    a.uploaded_date,
    a.uploaded_by,
    a.file_size,
    a.content_type,
    'Case Information' AS case_info
FROM case_attachment a
LEFT JOIN crm_case cc ON cc.case_id = a.case_id
WHERE a.customer_id = :customer_id

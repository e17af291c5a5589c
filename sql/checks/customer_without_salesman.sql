-- Customers without any salesman (neither main nor linked).
-- Why it matters: a salesman sees only the customers he is main or linked salesman of, so
--   nobody but a CRM administrator sees this customer: its renewals and cases go unattended.
-- Parameters: none.
-- Indexes relied on: customer_salesman primary key (customer_id, employee_id).
SELECT
    cu.account_no AS account_no,
    cu.customer_name AS customer_name,
    cu.status AS status,
    s.site_name AS site_name
FROM customer cu
LEFT JOIN site s ON s.site_id = cu.site_id
WHERE NOT EXISTS (SELECT 1 FROM customer_salesman cs WHERE cs.customer_id = cu.customer_id)
ORDER BY cu.account_no

-- Purpose: Case Information: one case with its customer, contact and owner, when the user
--   may see the customer.
-- Parameters: :case_no, :see_all, :employee_id (or NULL)
-- Indexes: crm_case(case_no), customer_salesman(employee_id, customer_id)
SELECT
    cc.case_id, cc.case_no, cc.subject, cc.information, cc.case_type, cc.case_date, cc.status,
    cc.salesman_id, e.full_name AS salesman,
    c.account_no, c.customer_name,
    ct.name AS contact_name, ct.tel AS contact_tel, ct.cell AS contact_cell, ct.email AS contact_email
FROM crm_case cc
JOIN customer c ON c.customer_id = cc.customer_id
LEFT JOIN employee e ON e.employee_id = cc.salesman_id
LEFT JOIN customer_contact ct ON ct.contact_id = cc.contact_id
WHERE cc.case_no = :case_no
  AND (:see_all = 1
       OR cc.customer_id IN (SELECT v.customer_id FROM customer_salesman v WHERE v.employee_id = :employee_id))

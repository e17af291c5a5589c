-- Purpose: the Cases grids: CRM cases of the customers the user may see, across them or of one
--   customer, with the customer and the owner; other_salesman marks another salesman's case
--   (greyed; never for an administrator). The grid adds its tab (open / all), filters and page.
-- Parameters: :see_all (1 = administrator), :employee_id (the user's BPO2 employee, or NULL);
--   with one_customer :customer_id
-- Indexes: crm_case(customer_id), customer_salesman(employee_id, customer_id)
SELECT
    cc.case_id,
    cc.case_no,
    cc.case_date,
    cc.subject,
    cc.case_type,
    cc.status,
    c.account_no,
    c.customer_name,
    e.full_name AS salesman,
    cc.salesman_id,
    CASE WHEN :see_all = 0 AND cc.salesman_id IS NOT NULL AND cc.salesman_id <> COALESCE(:employee_id, -1)
         THEN 1 ELSE 0 END AS other_salesman
FROM crm_case cc
JOIN customer c ON c.customer_id = cc.customer_id
LEFT JOIN employee e ON e.employee_id = cc.salesman_id
WHERE (:see_all = 1
       OR cc.customer_id IN (SELECT v.customer_id FROM customer_salesman v WHERE v.employee_id = :employee_id))
{%- if one_customer|default(false) %}
  AND cc.customer_id = :customer_id
{%- endif %}

-- Purpose: one customer for the Customer Dashboard, when the user may see it.
-- Parameters: :account_no, :see_all (1 = administrator), :employee_id (or NULL)
-- Indexes: customer(account_no), customer_salesman(employee_id, customer_id)
SELECT
    c.customer_id,
    c.account_no,
    c.customer_name,
    c.status,
    c.tel,
    c.email,
    s.site_name,
    (SELECT MAX(e.full_name)
       FROM customer_salesman ms JOIN employee e ON e.employee_id = ms.employee_id
      WHERE ms.customer_id = c.customer_id AND ms.is_main
      ) AS main_salesman
FROM customer c
LEFT JOIN site s ON s.site_id = c.site_id
WHERE c.account_no = :account_no
  AND (:see_all = 1
       OR c.customer_id IN (SELECT v.customer_id FROM customer_salesman v WHERE v.employee_id = :employee_id))

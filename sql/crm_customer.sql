-- Purpose: one customer for the Customer Dashboard, when the user may see it; site and main
--   salesman as the sync derived them (customer_row).
-- Parameters: :account_no, :see_all (1 = administrator), :employee_id (or NULL)
-- Indexes: customer_row(account_no, customer_id), customer_salesman(employee_id, customer_id)
SELECT
    r.customer_id,
    r.account_no,
    r.customer_name,
    r.status,
    r.tel,
    c.email,
    r.site_name,
    r.main_salesman
FROM customer_row r
JOIN customer c ON c.customer_id = r.customer_id
WHERE r.account_no = :account_no
  AND (:see_all = 1
       OR r.customer_id IN (SELECT v.customer_id FROM customer_salesman v WHERE v.employee_id = :employee_id))

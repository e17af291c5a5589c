-- Purpose: the Customers grid: customers the user may see, with site, main salesman and
--   contract counts (Active contracts in force today; Expiring within the window).
-- Parameters: :see_all (1 = administrator), :employee_id (the user's BPO2 employee, or NULL),
--   :today, :window_end (add_months(today, W)), :excluded (expanding list of statuses)
-- Indexes: customer_salesman(employee_id, customer_id), contract(customer_id, status, expiry_date)
SELECT
    c.customer_id,
    c.account_no,
    c.customer_name,
    s.site_name,
    (SELECT MAX(e.full_name)
       FROM customer_salesman ms JOIN employee e ON e.employee_id = ms.employee_id
      WHERE ms.customer_id = c.customer_id AND ms.is_main
      ) AS main_salesman,
    c.tel,
    c.status,
    (SELECT COUNT(*) FROM contract k
      WHERE k.customer_id = c.customer_id AND k.status = 'Active'
        AND (k.expiry_date IS NULL OR k.expiry_date >= :today)) AS active_contracts,
    (SELECT COUNT(*) FROM contract k
      WHERE k.customer_id = c.customer_id AND k.status NOT IN :excluded
        AND k.expiry_date >= :today AND k.expiry_date <= :window_end) AS expiring_contracts,
    'View' AS view_customer
FROM customer c
LEFT JOIN site s ON s.site_id = c.site_id
WHERE (:see_all = 1
       OR c.customer_id IN (SELECT v.customer_id FROM customer_salesman v WHERE v.employee_id = :employee_id))

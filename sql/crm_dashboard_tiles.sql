-- Purpose: the Home tiles: customers the user may see, their expiring contracts, open
--   cases and open activities.
-- Parameters: :see_all, :employee_id (or NULL), :today, :window_end, :excluded (expanding)
-- Indexes: customer_salesman(employee_id, customer_id), contract(customer_id, status, expiry_date),
--   crm_case(customer_id), activity(customer_id)
WITH visible AS (
    SELECT c.customer_id FROM customer c
    WHERE (:see_all = 1
           OR c.customer_id IN (SELECT v.customer_id FROM customer_salesman v WHERE v.employee_id = :employee_id))
)
SELECT
    (SELECT COUNT(*) FROM visible) AS customers,
    (SELECT COUNT(*) FROM contract k JOIN visible ON visible.customer_id = k.customer_id
      WHERE k.status NOT IN :excluded AND k.expiry_date >= :today AND k.expiry_date <= :window_end)
        AS expiring_contracts,
    (SELECT COUNT(*) FROM crm_case cc JOIN visible ON visible.customer_id = cc.customer_id
      WHERE cc.status = 'Open') AS open_cases,
    (SELECT COUNT(*) FROM activity a JOIN visible ON visible.customer_id = a.customer_id
      WHERE NOT a.completed) AS open_activities

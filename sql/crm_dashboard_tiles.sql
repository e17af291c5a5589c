-- Purpose: the Home tiles: customers the user may see, their expiring contracts, open
--   cases and open activities. Rendered apart for an administrator (see_all: every customer,
--   counted without asking which are visible) and for a salesman (his customers).
-- Parameters: :employee_id (salesman form), :today, :window_end, :excluded (expanding)
-- Indexes: contract_row(status, expiry_date) (read alone), contract_row(customer_id, expiry_date),
--   customer_salesman(employee_id, customer_id), crm_case(customer_id), activity(customer_id)
{%- if see_all|default(false) %}
SELECT
    (SELECT COUNT(*) FROM customer_row) AS customers,
    (SELECT COUNT(*) FROM contract_row k
      WHERE k.status NOT IN :excluded AND k.expiry_date >= :today AND k.expiry_date <= :window_end)
        AS expiring_contracts,
    (SELECT COUNT(*) FROM crm_case cc WHERE cc.status = 'Open') AS open_cases,
    (SELECT COUNT(*) FROM activity a WHERE NOT a.completed) AS open_activities
{%- else %}
WITH visible AS (
    SELECT v.customer_id FROM customer_salesman v WHERE v.employee_id = :employee_id
)
SELECT
    (SELECT COUNT(*) FROM visible) AS customers,
    (SELECT COUNT(*) FROM contract_row k JOIN visible ON visible.customer_id = k.customer_id
      WHERE k.status NOT IN :excluded AND k.expiry_date >= :today AND k.expiry_date <= :window_end)
        AS expiring_contracts,
    (SELECT COUNT(*) FROM crm_case cc JOIN visible ON visible.customer_id = cc.customer_id
      WHERE cc.status = 'Open') AS open_cases,
    (SELECT COUNT(*) FROM activity a JOIN visible ON visible.customer_id = a.customer_id
      WHERE NOT a.completed) AS open_activities
{%- endif %}

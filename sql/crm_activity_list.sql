-- Purpose: the Activities grids and Home's Today / Recent: activities of the customers the user
--   may see, across them or of one customer, with customer, case and salesman; other_salesman
--   marks another salesman's activity (greyed; never for an administrator). The grid adds its
--   tab (today / recent / open / all), "only mine", filters and page.
-- Parameters: :see_all (1 = administrator), :employee_id (the user's BPO2 employee, or NULL);
--   with one_customer :customer_id
-- Indexes: activity(scheduled_for), activity(modified_date), activity(customer_id),
--   customer_salesman(employee_id, customer_id)
SELECT
    a.activity_id,
    a.scheduled_for,
    a.modified_date,
    a.activity_type,
    a.subject,
    c.account_no,
    c.customer_name,
    cc.case_no,
    cc.status AS case_status,
    e.full_name AS salesman,
    a.salesman_id,
    a.completed,
    CASE WHEN :see_all = 0 AND a.salesman_id IS NOT NULL AND a.salesman_id <> COALESCE(:employee_id, -1)
         THEN 1 ELSE 0 END AS other_salesman
FROM activity a
JOIN customer c ON c.customer_id = a.customer_id
LEFT JOIN employee e ON e.employee_id = a.salesman_id
LEFT JOIN crm_case cc ON cc.case_id = a.case_id
WHERE (:see_all = 1
       OR a.customer_id IN (SELECT v.customer_id FROM customer_salesman v WHERE v.employee_id = :employee_id))
{%- if one_customer|default(false) %}
  AND a.customer_id = :customer_id
{%- endif %}

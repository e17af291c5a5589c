-- Purpose: the Home tabs: activities of the customers the user may see, either scheduled
--   in a time range (Today) or changed since a moment (Recent); optionally only the user's own.
-- Parameters: :see_all, :employee_id (or NULL), :only_mine (1/0), :start, :end (scheduled_for
--   range, Today), :since (modified_date lower bound, Recent), :max_rows. Rendered per kind
--   ('today' | 'recent'), so each form reads its own index.
-- Indexes: activity(scheduled_for), activity(modified_date), customer_salesman(employee_id, customer_id)
SELECT
    a.activity_id,
    a.activity_type,
    a.subject,
    a.scheduled_for,
    a.completed,
    a.modified_date,
    a.salesman_id,
    e.full_name AS salesman,
    c.account_no,
    c.customer_name,
    cc.case_no,
    cc.status AS case_status
FROM activity a
JOIN customer c ON c.customer_id = a.customer_id
LEFT JOIN employee e ON e.employee_id = a.salesman_id
LEFT JOIN crm_case cc ON cc.case_id = a.case_id
WHERE (:see_all = 1
       OR a.customer_id IN (SELECT v.customer_id FROM customer_salesman v WHERE v.employee_id = :employee_id))
  AND (:only_mine = 0 OR a.salesman_id = :employee_id)
{%- if kind|default('today') == 'today' %}
  AND a.scheduled_for >= :start AND a.scheduled_for < :end
ORDER BY a.scheduled_for, a.activity_id
{%- else %}
  AND a.modified_date >= :since
ORDER BY a.modified_date DESC, a.activity_id
{%- endif %}
LIMIT :max_rows

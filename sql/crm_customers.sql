-- Purpose: the Customers grid: customers the user may see, from the rows the sync derived
--   (site, main salesman, search text) with their contract counts (Active contracts in force
--   today; Expiring within the window): stored, or counted here when the stored counts were
--   counted for another day than :today (live_counts; until the job after midnight has run).
-- Parameters: :see_all (1 = administrator), :employee_id (the user's BPO2 employee, or NULL);
--   with live_counts :today, :window_end (add_months(today, W)), :excluded (expanding list)
-- Indexes: customer_row(<sort>, customer_id), customer_salesman(employee_id, customer_id)
{% import '_contract_counts' as counts -%}
SELECT
    c.customer_id,
    c.account_no,
    c.customer_name,
    c.site_name,
    c.main_salesman,
    c.tel,
    c.status,
{%- if live_counts|default(false) %}
    {{ counts.active('c.customer_id') }} AS active_contracts,
    {{ counts.expiring('c.customer_id') }} AS expiring_contracts,
{%- else %}
    c.active_contracts,
    c.expiring_contracts,
{%- endif %}
    c.search_text,
    'View' AS view_customer
FROM customer_row c
WHERE (:see_all = 1
       OR c.customer_id IN (SELECT v.customer_id FROM customer_salesman v WHERE v.employee_id = :employee_id))

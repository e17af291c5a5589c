-- Contracts with their expiry window and Months Remaining as of :today (SPEC §3).
-- Parameters:
--   :today        the local date contracts are classified at (read time, not sync time)
--   :window_end   add_months(today, W), W = expiring_window_months (computed by windows.add_months)
--   :today_ym     year(today) * 12 + month(today)
--   :today_day    day of month of today
--   :customer_id  only when the query is rendered for one customer
--   :employee_id  only when rendered for the customers one salesman may see
--   :excluded     (expanding) contract statuses never expired or expiring (cache form); the
--                 source form for ops carries them as literals
-- Months Remaining = the largest m with add_months(today, m) <= expiry_date: month difference,
-- less one when the expiry day of month is before today's and not the last day of its month.
-- Window: 'expired' (expiry < today), 'expiring' (today <= expiry <= window_end), 'current'
-- (later), NULL without expiry or for an excluded status.
-- Tab filters are plain comparisons on expiry_date (SARGable). The contract type is a scalar
-- subquery, not a LEFT JOIN: a count over this query then skips it, where SQLite looked up
-- the type of each of a million contracts for nothing (0.47 s against 0.08 s). Tests on the
-- type are asked of contract_type_id (contract_search), not of the subquery row by row.
-- Indexes relied on: contract(customer_id, status, expiry_date), contract(expiry_date),
--   contract_item(contract_id), customer_salesman(employee_id, customer_id).
SELECT
    c.contract_id AS contract_id,
    c.contract_no AS contract_no,
    c.customer_id AS customer_id,
    cu.account_no AS account_no,
    cu.customer_name AS customer_name,
    (SELECT ct.description FROM contract_type ct
      WHERE ct.contract_type_id = c.contract_type_id) AS contract_type,
    c.contract_type_id AS contract_type_id,
    c.status AS status,
    c.site_id AS site_id,
    c.start_date AS start_date,
    c.expiry_date AS expiry_date,
    CASE
        WHEN c.expiry_date IS NULL THEN NULL
        ELSE {{ year('c.expiry_date') }} * 12 + {{ month('c.expiry_date') }} - :today_ym
            - {{ as_int(day('c.expiry_date') ~ ' < :today_day AND NOT ' ~ is_month_end('c.expiry_date')) }}
    END AS months_remaining,
    CASE
        WHEN c.expiry_date IS NULL OR c.status IN {{ excluded }} THEN NULL
        WHEN c.expiry_date < :today THEN 'expired'
        WHEN c.expiry_date <= :window_end THEN 'expiring'
        ELSE 'current'
    END AS {{ q('window') }},
    (SELECT COUNT(*) FROM contract_item ci WHERE ci.contract_id = c.contract_id) AS machines
FROM contract c
JOIN customer cu ON cu.customer_id = c.customer_id
WHERE 1 = 1
{%- if tab == 'expired' %}
    AND c.expiry_date < :today
    AND c.status NOT IN {{ excluded }}
{%- elif tab == 'expiring' %}
    AND c.expiry_date >= :today
    AND c.expiry_date <= :window_end
    AND c.status NOT IN {{ excluded }}
{%- endif %}
{%- if by_customer %}
    AND c.customer_id = :customer_id
{%- endif %}
{%- if by_employee %}
    AND c.customer_id IN (SELECT cs.customer_id FROM customer_salesman cs WHERE cs.employee_id = :employee_id)
{%- endif %}

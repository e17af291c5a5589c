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
-- Tab filters are plain comparisons on expiry_date (SARGable).
-- derived: read the contract rows the sync derived (contract_row: customer, type and machines
--   stored and indexed, with the last 12 months' profitability the sync stores), as the cache's
--   screens do; otherwise the entity tables, as ops on BPO2 (no profitability columns there).
-- Indexes relied on (cache): contract_row(customer_id, expiry_date), contract_row(<sort>,
--   contract_id), customer_salesman(employee_id, customer_id).
SELECT
    c.contract_id AS contract_id,
    c.contract_no AS contract_no,
    c.customer_id AS customer_id,
{%- if derived %}
    c.account_no AS account_no,
    c.customer_name AS customer_name,
    c.contract_type AS contract_type,
{%- else %}
    cu.account_no AS account_no,
    cu.customer_name AS customer_name,
    (SELECT ct.description FROM contract_type ct
      WHERE ct.contract_type_id = c.contract_type_id) AS contract_type,
{%- endif %}
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
{%- if derived %}
    c.machines AS machines,
    c.revenue_12m AS revenue_12m,
    c.cost_12m AS cost_12m,
    c.gross_profit_12m AS gross_profit_12m,
    c.margin_12m AS margin_12m,
    c.volume_12m AS volume_12m,
    c.cost_per_copy_12m AS cost_per_copy_12m,
    c.volume_trend AS volume_trend,
    c.last_billed AS last_billed,
    c.cost_per_copy_3m AS cost_per_copy_3m,
    c.search_text AS search_text
FROM contract_row c
{%- else %}
    (SELECT COUNT(*) FROM contract_item ci WHERE ci.contract_id = c.contract_id) AS machines
FROM contract c
JOIN customer cu ON cu.customer_id = c.customer_id
{%- endif %}
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

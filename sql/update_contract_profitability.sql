-- Purpose: the stored last-12-months profitability of contract rows (contract_row) computed
--   again as of :today: of every contract by the job after local midnight (the window moves with
--   the date) and by a sync that finds the rows computed for another day; of the contracts whose
--   invoice lines or service calls an incremental sync or a Refresh changed, and of the contract
--   rows it added (rendered scoped: the contracts listed in the temporary table touched_profit).
--   Only rows whose figures differ are written (most nights within a month change few).
-- Parameters: the profitability window (_profitability.sql): :from_12m, :today, :day_after,
--   :recent_from, :this_month, :prior_from
-- Indexes: contract_row primary key; invoice_line(contract_id, invoice_date), service_call(contract_id)
--   when scoped, else one pass over the window's invoice lines and service calls
{% import '_profitability' as profit -%}
{%- set scope = 'IN (SELECT t.contract_id FROM touched_profit t)' if scoped|default(false) else '' %}
{%- set differs = 'IS NOT' if dialect == 'sqlite' else 'IS DISTINCT FROM' %}
UPDATE contract_row SET
    revenue_12m = p.revenue_12m,
    cost_12m = p.cost_12m,
    gross_profit_12m = p.gross_profit_12m,
    margin_12m = p.margin_12m,
    volume_12m = p.volume_12m,
    cost_per_copy_12m = p.cost_per_copy_12m,
    volume_trend = p.volume_trend,
    last_billed = p.last_billed,
    cost_per_copy_3m = p.cost_per_copy_3m
FROM (
    SELECT q.contract_id,
{{ profit.columns('r', 'k') }}
    FROM contract_row q
    LEFT JOIN {{ profit.revenue(scope) }} r ON r.contract_id = q.contract_id
    LEFT JOIN {{ profit.cost(scope) }} k ON k.contract_id = q.contract_id
{%- if scope %}
    WHERE q.contract_id {{ scope }}
{%- endif %}
) p
WHERE p.contract_id = contract_row.contract_id
  AND (contract_row.revenue_12m {{ differs }} p.revenue_12m
       OR contract_row.cost_12m {{ differs }} p.cost_12m
       OR contract_row.margin_12m {{ differs }} p.margin_12m
       OR contract_row.volume_12m {{ differs }} p.volume_12m
       OR contract_row.cost_per_copy_12m {{ differs }} p.cost_per_copy_12m
       OR contract_row.volume_trend {{ differs }} p.volume_trend
       OR contract_row.last_billed {{ differs }} p.last_billed
       OR contract_row.cost_per_copy_3m {{ differs }} p.cost_per_copy_3m)

-- Macros (imported by other SQL files): a contract's last-12-months profitability, as the
--   Contract Performance report defines it (SPEC §5; bpo2_bridge/report/figures.py): invoice
--   lines dated from :from_12m (the first day of the month 11 months before today's) to :today,
--   service call costs logged from :from_12m until :day_after (midnight after today).
-- Money is summed in whole cents, each line rounded to the cent first, exactly as the report
--   sums it, so stored and reported figures agree to the cent on every engine. Ratios are
--   rounded half to even at the report's places, in integer arithmetic (no floating point).
-- Parameters of the statement importing them: :from_12m, :today (dates), :day_after (datetime),
--   :recent_from, :this_month, :prior_from (first days of month -3, 0 and -6: the last 3 full
--   months and the 3 before them, for the volume trend)
-- Also, for the Renewals flags: last_billed (the latest invoice line's date in the 12 months) and
--   cost_per_copy_3m (the last 3 full months' call cost per billed copy, as the report's months
--   sum them).
-- Indexes: invoice_line(contract_id, invoice_date); service_call(contract_id); call_cost(call_id)

{#- Per contract: revenue in cents, billed volume (Meter lines) over the 12 months, and over the
    last 3 full months and the 3 before. `scope` restricts the contract ids (e.g. "IN :ids"). #}
{% macro revenue(scope='') -%}
(SELECT il.contract_id,
        CAST(SUM(ROUND(il.amount * 100, 0)) AS BIGINT) AS revenue_cents,
        CAST(SUM(CASE WHEN il.line_type = 'Meter' THEN il.volume ELSE 0 END) AS BIGINT) AS volume,
        CAST(SUM(CASE WHEN il.line_type = 'Meter' AND il.invoice_date >= :recent_from
                       AND il.invoice_date < :this_month THEN il.volume ELSE 0 END) AS BIGINT) AS volume_recent,
        CAST(SUM(CASE WHEN il.line_type = 'Meter' AND il.invoice_date >= :prior_from
                       AND il.invoice_date < :recent_from THEN il.volume ELSE 0 END) AS BIGINT) AS volume_prior,
        MAX(il.invoice_date) AS last_billed
   FROM invoice_line il
  WHERE il.invoice_date >= :from_12m AND il.invoice_date <= :today
{%- if scope %}
    AND il.contract_id {{ scope }}
{%- endif %}
  GROUP BY il.contract_id)
{%- endmacro %}

{#- Per contract: the cost of its service calls in cents, over the 12 months and over the last
    3 full months. #}
{% macro cost(scope='') -%}
(SELECT sc.contract_id, CAST(SUM(ROUND(cc.cost_amount * 100, 0)) AS BIGINT) AS cost_cents,
        CAST(SUM(CASE WHEN sc.logged_date >= :recent_from AND sc.logged_date < :this_month
                      THEN ROUND(cc.cost_amount * 100, 0) ELSE 0 END) AS BIGINT) AS cost_recent_cents
   FROM service_call sc
   JOIN call_cost cc ON cc.call_id = sc.call_id
  WHERE sc.logged_date >= :from_12m AND sc.logged_date < :day_after
{%- if scope %}
    AND sc.contract_id {{ scope }}
{%- endif %}
  GROUP BY sc.contract_id)
{%- endmacro %}

{#- n / d rounded half to even, for integer n and d (d not 0): truncating division (every
    engine truncates toward zero), then one step away from zero past the half, or at the half
    when the quotient is odd. #}
{% macro half_even(n, d) -%}
(({{ n }}) / ({{ d }}) + CASE
    WHEN 2 * ABS(({{ n }}) % ({{ d }})) > ABS({{ d }})
      OR (2 * ABS(({{ n }}) % ({{ d }})) = ABS({{ d }}) AND (({{ n }}) / ({{ d }})) % 2 <> 0)
    THEN CASE WHEN ({{ n }} > 0 AND {{ d }} > 0) OR ({{ n }} < 0 AND {{ d }} < 0) THEN 1 ELSE -1 END
    ELSE 0 END)
{%- endmacro %}

{#- The stored columns, from a revenue(...) row `r` and a cost(...) row `k` (either may be
    missing: no lines in the window). A decimal literal divisor keeps the quotient exact on
    PostgreSQL (numeric) and the nearest double to it on SQLite. #}
{% macro columns(r, k) -%}
{%- set rc = 'COALESCE(' ~ r ~ '.revenue_cents, 0)' -%}
{%- set cc = 'COALESCE(' ~ k ~ '.cost_cents, 0)' -%}
{%- set v = 'COALESCE(' ~ r ~ '.volume, 0)' -%}
{%- set vr = r ~ '.volume_recent' -%}
{%- set vp = r ~ '.volume_prior' -%}
{%- set cr = 'COALESCE(' ~ k ~ '.cost_recent_cents, 0)' -%}
{%- set vr0 = 'COALESCE(' ~ vr ~ ', 0)' -%}
    {{ rc }} / 100.0 AS revenue_12m,
    {{ cc }} / 100.0 AS cost_12m,
    ({{ rc }} - {{ cc }}) / 100.0 AS gross_profit_12m,
    CASE WHEN {{ rc }} <> 0
         THEN {{ half_even('(' ~ rc ~ ' - ' ~ cc ~ ') * 1000', rc) }} / 10.0 END AS margin_12m,
    {{ v }} AS volume_12m,
    CASE WHEN {{ v }} <> 0 THEN {{ half_even(cc ~ ' * 100', v) }} / 10000.0 END AS cost_per_copy_12m,
    CASE WHEN {{ vr }} > 0 AND {{ vp }} > 0
         THEN {{ half_even('(' ~ vr ~ ' - ' ~ vp ~ ') * 1000', vp) }} / 10.0 END AS volume_trend,
    {{ r }}.last_billed AS last_billed,
    CASE WHEN {{ vr0 }} <> 0 THEN {{ half_even(cr ~ ' * 100', vr0) }} / 10000.0 END AS cost_per_copy_3m
{%- endmacro %}

{#- The stored columns, in the order of columns(...). #}
{% macro names() -%}
revenue_12m, cost_12m, gross_profit_12m, margin_12m, volume_12m, cost_per_copy_12m, volume_trend,
last_billed, cost_per_copy_3m
{%- endmacro %}

-- Contract Performance report: cost of one contract's service calls, per month (of the call's
-- logged date), machine and cost type (Part, Toner, Labour, Travel, Other), for calls logged
-- before :day_after (the day after today). Money comes back as whole cents (cost_cents), so sums
-- are exact on every engine. Calls without cost lines are counted by report_calls.sql only.
-- "Last 12 months" = logged_date within [first day of the month 11 months before today's month, today].
-- Parameters: :contract_id, :day_after (datetime, midnight starting the day after today)
-- Indexes relied on: service_call(contract_id); call_cost(call_id).
SELECT {{ year('sc.logged_date') }} AS yr,
       {{ month('sc.logged_date') }} AS mon,
       sc.asset_id,
       cc.cost_type,
       SUM(ROUND(cc.cost_amount * 100, 0)) AS cost_cents
FROM service_call sc
JOIN call_cost cc ON cc.call_id = sc.call_id
WHERE sc.contract_id = :contract_id AND sc.logged_date < :day_after
GROUP BY {{ year('sc.logged_date') }}, {{ month('sc.logged_date') }}, sc.asset_id, cc.cost_type

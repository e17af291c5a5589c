-- Contract Performance report: the header of one contract (customer, type, site, main salesman).
-- Parameters: :contract_no (the contract's number, e.g. CPC0000088), :main (true, typed per dialect,
--   because a boolean literal is spelled differently on every engine).
-- Indexes relied on: contract(contract_no); primary keys of customer, contract_type, site, employee;
--   customer_salesman primary key (customer_id, employee_id) for the main salesman lookup.
SELECT c.contract_id, c.contract_no, c.status, c.start_date, c.expiry_date, c.billing_cycle,
       cu.customer_id, cu.account_no, cu.customer_name, cu.email AS customer_email, cu.tel AS customer_tel,
       ct.description AS contract_type,
       s.site_name,
       (SELECT MIN(e.full_name)
          FROM customer_salesman cs
          JOIN employee e ON e.employee_id = cs.employee_id
         WHERE cs.customer_id = c.customer_id AND cs.is_main = :main) AS salesman
FROM contract c
JOIN customer cu ON cu.customer_id = c.customer_id
LEFT JOIN contract_type ct ON ct.contract_type_id = c.contract_type_id
LEFT JOIN site s ON s.site_id = c.site_id
WHERE c.contract_no = :contract_no
ORDER BY c.contract_id

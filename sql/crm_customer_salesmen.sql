-- Purpose: the salesmen (main first) linked to one customer, for the Customer Dashboard.
-- Parameters: :customer_id
-- Indexes: customer_salesman primary key (customer_id, employee_id)
SELECT e.employee_id, e.full_name, e.email, cs.is_main
FROM customer_salesman cs
JOIN employee e ON e.employee_id = cs.employee_id
WHERE cs.customer_id = :customer_id
ORDER BY cs.is_main DESC, e.full_name

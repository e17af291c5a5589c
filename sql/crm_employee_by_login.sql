-- Purpose: the BPO2 employee a bridge user maps to (sign-in links users to employees by login).
-- Parameters: :login (compared case-insensitively)
-- Indexes: employee(login_name)
SELECT employee_id, login_name, full_name, email, is_crm_administrator
FROM employee
WHERE lower(login_name) = lower(:login)

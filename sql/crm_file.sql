-- Purpose: one attachment's name and type, when the user may see its customer (download).
-- Parameters: :file_id, :see_all, :employee_id (or NULL)
-- Indexes: case_attachment primary key, customer_salesman(employee_id, customer_id)
SELECT a.file_id, a.file_name, a.content_type, a.file_size, a.customer_id
FROM case_attachment a
WHERE a.file_id = :file_id
  AND (:see_all = 1
       OR a.customer_id IN (SELECT v.customer_id FROM customer_salesman v WHERE v.employee_id = :employee_id))

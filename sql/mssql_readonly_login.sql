-- Purpose: the SQL Server login bpo2-bridge reads BPO2 with: a member of db_datareader, denied
--          every write (db_denydatawriter), EXECUTE and schema changes, so SQL Server itself
--          refuses anything but SELECT. An ops script, run once by a DBA with sysadmin rights
--          (sqlcmd -i or SSMS); the application never runs it.
-- Parameters: none bound. Before running, replace the login name bpo2_bridge_reader, the
--             password and the database name BPO2 with the install's own (docs/sql-server.md;
--             a Windows login uses CREATE LOGIN [DOMAIN\account] FROM WINDOWS instead).
-- Indexes relied on: none.
USE [master];

CREATE LOGIN [bpo2_bridge_reader]
    WITH PASSWORD = N'change-me-L0ng-and-Random!',
    DEFAULT_DATABASE = [BPO2],
    CHECK_POLICY = ON;

USE [BPO2];

CREATE USER [bpo2_bridge_reader] FOR LOGIN [bpo2_bridge_reader] WITH DEFAULT_SCHEMA = [dbo];

-- reads every table and view; nothing else is granted
ALTER ROLE [db_datareader] ADD MEMBER [bpo2_bridge_reader];

-- denials win over any grant the login might later receive through another role
ALTER ROLE [db_denydatawriter] ADD MEMBER [bpo2_bridge_reader];

-- DENY goes through sp_executesql only so that SQL parsers without DENY support (the project's
-- tests check this file with sqlglot) still read the script; SQL Server runs it just the same.
EXECUTE sp_executesql N'DENY EXECUTE TO [bpo2_bridge_reader]';

EXECUTE sp_executesql N'DENY ALTER, CONTROL, TAKE OWNERSHIP, REFERENCES TO [bpo2_bridge_reader]';

EXECUTE sp_executesql N'DENY CREATE TABLE, CREATE VIEW, CREATE PROCEDURE, CREATE FUNCTION, CREATE SCHEMA TO [bpo2_bridge_reader]';

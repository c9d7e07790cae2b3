-- from MariaDB/server mysql-test/main/create_or_replace.test at commit 06c57584b377d4d5feaad2d90a826583d4ac91a7
drop table if exists t1,t2,t3
;;
CREATE TABLE t2 (a int)
;;
CREATE OR REPLACE TABLE t1 (a int)
;;
DROP TABLE t1
;;
CREATE OR REPLACE TABLE t1 (a int)
;;
DROP TABLE t1
;;
drop table t1
;;
CREATE OR REPLACE TABLE t1 (a int)
;;
DROP TABLE t1
;;
DROP TABLE t1
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a int)
;;
CREATE OR REPLACE TABLE t1 AS SELECT 1
;;
DROP TABLE t1
;;
create table t1 (a int)
;;
drop table t1
;;
CREATE OR REPLACE TABLE t1 (a int)
;;
CREATE OR REPLACE TABLE t1 (a int, b int)
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a int) SELECT * from t2
;;
TRUNCATE TABLE t1
;;
CREATE TABLE IF NOT EXISTS t1 (a int) SELECT * from t2
;;
DROP TABLE t1
;;
CREATE TABLE t1 (i int)
;;
CREATE OR REPLACE TABLE t1 AS SELECT 1
;;
DROP TABLE t1
;;
CREATE OR REPLACE TABLE t1 (a int)
;;
CREATE OR REPLACE TABLE t1 (a int, b int)
;;
CREATE OR REPLACE TABLE t1 (a int, b int, c int)
;;
DROP TABLE t1
;;
CREATE OR REPLACE TABLE t1 (a int)
;;
CREATE OR REPLACE TABLE t1 (a int, b int) select a,1 from t2
;;
CREATE OR REPLACE TABLE t1 (a int, b int, c int, d int)
;;
DROP TABLE t1
;;
CREATE OR REPLACE TABLE t1 (a int)
;;
CREATE OR REPLACE TABLE t1 (a int, b int) select a,1 from t2
;;
DROP TABLE t1
;;
CREATE OR REPLACE TABLE t1 (a int)
;;
CREATE OR REPLACE TABLE t1 AS SELECT 1
;;
DROP TABLE t1
;;
create table t1 (i int) engine=innodb
;;
create or replace table t1 (j int)
;;
drop table t1
;;
create table t1 (i int) engine=InnoDB
;;
create or replace table t1 (j int) engine=innodb
;;
drop table t1
;;
create table t1 (i int) engine=InnoDB
;;
create table t3 (i int) engine=InnoDB
;;
create table t4 (i int) engine=InnoDB
;;
create or replace table t1 (a int, i int) engine=innodb select t2.a,t3.i from t2,t3
;;
drop table t1,t3,t4
;;
drop table if exists test.t1,mysqltest2.t2
;;
create table test.t1 (i int) engine=myisam
;;
create table mysqltest2.t2 like test.t1
;;
create table t1 (i int)
;;
drop table t1
;;
create table test.t1 (i int)
;;
create table mysqltest2.t2 like test.t1
;;
create table t1 (i int)
;;
drop table t1
;;
create table test.t1 (i int) engine=innodb
;;
create table mysqltest2.t2 like test.t1
;;
drop table test.t1,mysqltest2.t2
;;
create table test.t1 (i int) engine=aria transactional=1 checksum=1
;;
create table mysqltest2.t2 like test.t1
;;
drop table t1
;;
create table test.t1 (i int)
;;
create or replace table t1 like t2
;;
create or replace table t1 like t2
;;
drop table t1
;;
create table t1 (b int)
;;
create or replace table t1 like t2
;;
CREATE OR REPLACE TABLE t1 like t2
;;
drop table t1
;;
create or replace table t1 like t2
;;
drop table t1
;;
drop table t1
;;
drop table t1,t3
;;
drop table t1
;;
drop table t1
;;
create table if not exists t1 (a int)
;;
create table t1 (a int)
;;
create or replace table t1 (i int)
;;
create or replace table t1 like t2
;;
create or replace table t1 select 1 as f1
;;
drop table t1
;;
CREATE TABLE t1 (col_int_nokey INT) ENGINE=InnoDB
;;
drop table t1
;;
DROP TABLE t2
;;
CREATE TABLE t1(a INT)
;;
CREATE OR REPLACE TABLE t1 AS SELECT f1()
;;
CREATE OR REPLACE TABLE t1 AS SELECT f1()
;;
DROP TABLE t1
;;
CREATE OR REPLACE TABLE t1(a INT)
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a INT)
;;
CREATE TABLE t2 (b INT)
;;
CREATE TABLE t3 (c INT)
;;
CREATE OR REPLACE TABLE t1 (i INT)
;;
DROP TABLE t1, t2, t3
;;
CREATE TABLE t3(a INT)
;;
DROP TABLE t3
;;

-- from MariaDB/server mysql-test/suite/versioning/t/create.test at commit 9ed8deb656d9378fc9c1c7fb12c15674b6323ab0
drop table if exists t1
;;
create or replace table t1 ( x2 int unsigned ) with system versioning
;;
create or replace table t1 ( x15 int with system versioning, B int )
;;
create or replace table t1 ( x16 int with system versioning, B int ) with system versioning
;;
create or replace table t1 ( x17 int, B int without system versioning )
;;
create or replace table t1 ( x18 int, B int without system versioning ) with system versioning
;;
create or replace table t1 ( x19 int with system versioning, B int without system versioning )
;;
create or replace table t1 ( x20 int with system versioning, B int without system versioning ) with system versioning
;;
create or replace table t1 ( x21 int without system versioning )
;;
create or replace table t1 (a int) with system versioning
;;
create table tt1 like t1
;;
drop table tt1
;;
create or replace table t1 (x23 int) with system versioning
;;
create or replace table t2 as select * from t1
;;
create or replace table t3 as select * from t0
;;
create or replace table t2 with system versioning as select * from t1
;;
create or replace table t3 with system versioning as select * from t0
;;
create or replace table t3 with system versioning select x23 from t1
;;
create or replace table t2 (y int)
;;
create or replace table t3 with system versioning select * from t1 for system_time all, t2
;;
create or replace table t2 like t0
;;
create or replace table t3 select * from t2 for system_time all
;;
create or replace table t2 as select x25, row_start, row_end from t1 for system_time all
;;
create or replace table t2 with system versioning as select x25, row_start rs, row_end re from t1
;;
create or replace table t1 ( x26 int, st bigint unsigned as row start, en bigint unsigned as row end, period for system_time (st, en) ) with system versioning engine innodb
;;
create or replace table t2 with system versioning engine myisam as select * from t1
;;
create or replace table t2 (b int, id int)
;;
create or replace table t3 with system versioning as select t2.b, t1.x27, t1.row_start rs, t1.row_end re from t2 inner join t1 on t2.id=t1.id
;;
create or replace table t1 (x30 int) with system versioning
;;
create or replace table t3 as select x30, y, row_start, row_end, st, en from t1, t2
;;
create or replace table t1 (x int) with system versioning
;;
create or replace table t1 with system versioning as select 1 as i
;;
create or replace table t1 (i int) with system versioning as select 1 as i
;;
create or replace table t1 (x int without system versioning) with system versioning select 1 as y
;;
drop tables t0, t1, t2, t3
;;
create table t1 (id int primary key) with system versioning
;;
create or replace table t1 ( a int, row_start timestamp(6) as row start, row_end timestamp(6) as row end, period for system_time (row_start, row_end), index(row_start), index(row_end), primary key(row_end, a, row_start), index(row_end, row_start, a)) with system versioning
;;
drop table t1
;;
create or replace table t1 (id int primary key, x int) with system versioning
;;
drop table t1
;;
create or replace table t1 (x int, y int with system versioning)
;;
create or replace table t1 ( x int, y int with system versioning, row_start timestamp(6) as row start, row_end timestamp(6) as row end, period for system_time(row_start, row_end))
;;
drop table t1
;;
create or replace table t ( a int with system versioning, b int with system versioning, s timestamp(6) as row start, e timestamp(6) as row end, period for system_time (s, e))
;;
drop table t
;;

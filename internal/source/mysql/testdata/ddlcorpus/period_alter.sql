-- from MariaDB/server mysql-test/suite/period/t/alter.test at commit ccc06931c3c7be094f6dcddeb45589f06cf0c8af
create table t (s date, e date)
;;
alter table t add period for a(s, e)
;;
create or replace table t (s date, e date)
;;
alter table t change s s date, add period for a(s, e)
;;
alter table t add id int
;;
alter table t drop id
;;
alter table t drop period if exists for b
;;
alter table t add period if not exists for a(e, s)
;;
alter table t drop period if exists for a
;;
alter table t drop period if exists for a
;;
alter table t add period for a(s, e), add period if not exists for a(e, s)
;;
alter table t drop period for a
;;
truncate t
;;
alter table t add period for a(s, e)
;;
alter table t add period for a(s, e), drop period for a
;;
alter table t add s1 date not null, add period for b(s1, e), drop period for a
;;
create table t1 like t
;;
drop table t1
;;
create table t2 (period for b(s1,e)) select * from t
;;
drop table t2
;;
create or replace table t (s timestamp not null, e timestamp(6) not null)
;;
create or replace table t (a int, s date, e date)
;;
create or replace table t (id int primary key, s date, e date generated always as (s+1))
;;
create or replace table t (id int primary key, s date, e date as (s+1) VIRTUAL)
;;
create or replace table t (id int primary key, s timestamp(6), e timestamp(6), st timestamp(6) as row start, en timestamp(6) as row end, period for system_time (st, en)) with system versioning
;;
alter table t add period for a(s, e)
;;
create or replace table t (x int, s date, e date, period for mytime(s, e))
;;
alter table t add constraint mytime check (x > 1)
;;
alter table t add constraint mytime_1 check (x > 2)
;;
drop table t
;;
alter table t1 add partition (partition p2 history)
;;
create or replace table t1 (x int, s date, e date, period for app(s,e))
;;
alter table t1 add system versioning
;;
drop table t1
;;
create or replace table t1 ( a int, s date, e date, period for mytime(s, e))
;;
alter table t1 rename column s to x
;;
alter table t1 rename column e to y
;;
drop table t1
;;

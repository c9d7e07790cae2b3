-- from MariaDB/server mysql-test/suite/versioning/t/alter.test at commit d7b5f9924648a66c5e63f7ae9dbb438dc24064b3
create table t( a int )
;;
alter table t add system versioning
;;
alter table t drop system versioning
;;
alter table t add system versioning
;;
alter table t drop system versioning
;;
alter table t add column trx_start timestamp(6) as row start invisible, add column trx_end timestamp(6) as row end invisible, add period for system_time(trx_start, trx_end), add system versioning
;;
alter table t drop column trx_start, drop column trx_end
;;
alter table t drop system versioning
;;
alter table t add system versioning
;;
alter table t add column b int
;;
alter table t add column c int
;;
alter table t add column d int first
;;
alter table t add column e int after d
;;
alter table t drop column a
;;
create or replace table t ( a int, row_start timestamp(6) as row start invisible, row_end timestamp(6) as row end invisible, period for system_time(row_start, row_end)) with system versioning
;;
alter table t drop column row_start, drop column row_end
;;
create or replace table t ( a int, row_start timestamp(6) as row start invisible, row_end timestamp(6) as row end invisible, period for system_time(row_start, row_end)) with system versioning
;;
alter table t drop column row_start, drop column row_end
;;
create or replace table t( a int )
;;
alter table t add system versioning
;;
alter table t add column b int
;;
alter table t drop system versioning
;;
alter table t add system versioning
;;
alter table t modify a int without system versioning
;;
alter table t modify a int with system versioning
;;
create or replace table t( a int ) engine=innodb
;;
alter table t add column trx_start timestamp(6) as row start invisible, add column trx_end timestamp(6) as row end invisible, add period for system_time(trx_start, trx_end), add system versioning
;;
alter table t drop column trx_start, drop column trx_end
;;
alter table t drop system versioning
;;
alter table t add column trx_start bigint(20) unsigned as row start invisible, add column trx_end bigint(20) unsigned as row end invisible, add period for system_time(trx_start, trx_end), add system versioning
;;
alter table t drop column trx_start, drop column trx_end
;;
alter table t drop system versioning, algorithm=copy
;;
alter table t add system versioning, algorithm=copy
;;
alter table t add column b int, algorithm=copy
;;
alter table t drop column b, algorithm=copy
;;
alter table t drop system versioning, algorithm=inplace
;;
alter table t add system versioning, algorithm=inplace
;;
alter table t add column b int, algorithm=inplace
;;
alter table t drop column b, algorithm=inplace
;;
alter table t drop system versioning, algorithm=copy
;;
create or replace table t (a int)
;;
alter table t add b int auto_increment null unique
;;
drop table t
;;
create or replace table t (a int) with system versioning engine=innodb
;;
alter table t add b int auto_increment null unique
;;
create or replace table t (a int) with system versioning
;;
alter table t add b int auto_increment null unique
;;
create or replace table t (a int, b int primary key, c int unique) with system versioning
;;
alter table t drop system versioning
;;
create or replace table t ( a int, row_start timestamp(6) as row start invisible, row_end timestamp(6) as row end invisible, period for system_time(row_start, row_end) ) with system versioning
;;
create or replace table t (a int) with system versioning engine innodb
;;
alter table t add column b int
;;
create or replace table t (a int) with system versioning engine myisam
;;
alter table t add column b int
;;
create or replace table non_empty ( a int, row_start bigint(20) unsigned, row_end bigint(20) unsigned ) engine innodb
;;
drop table non_empty
;;
create or replace table t (a int primary key) with system versioning
;;
alter table t drop primary key, add primary key (a), drop system versioning
;;
create or replace table t (a int primary key) with system versioning
;;
alter table t drop system versioning
;;
create or replace table t (a int) with system versioning
;;
create or replace table t(x int, y int) with system versioning engine=innodb
;;
alter table t modify y int without system versioning
;;
create or replace table t1 (pk int auto_increment unique) with system versioning
;;
alter table t1 engine=myisam
;;
drop table t
;;
create or replace table t (c text) engine=innodb with system versioning
;;
alter table t add fulltext key (c)
;;
create or replace table t (a int) with system versioning
;;
create or replace table t1 (row_start int)
;;
create or replace table t1 (row_end int)
;;
create or replace table t1 (a int) with system versioning
;;
create or replace table t ( a int, row_start timestamp(6) generated always as row start, row_end timestamp(6) generated always as row end, period for system_time(row_start, row_end) ) with system versioning
;;
alter table t drop column row_start, drop column row_end, drop period for system_time, drop system versioning
;;
create or replace table t ( a int, row_start timestamp(6) generated always as row start, row_end timestamp(6) generated always as row end, period for system_time(row_start, row_end) ) with system versioning
;;
create or replace table t1 (i int, j int as (i), s timestamp(6) as row start, e timestamp(6) as row end, period for system_time(s,e)) with system versioning
;;
create or replace table t (a int) with system versioning
;;
alter table t add check (a > 0)
;;
drop table t
;;
create or replace table t1 (a int, b int generated always as (0) stored) engine=innodb with system versioning
;;
alter table t1 modify a int without system versioning, algorithm=copy
;;
alter table t1 modify a int with system versioning, algorithm=copy
;;
alter table t1 modify a int without system versioning
;;
alter table t1 modify a int with system versioning
;;
alter table t1 modify b int without system versioning
;;
create or replace table t1 (a int, b int generated always as (0) virtual) engine=innodb with system versioning
;;
alter table t1 modify a int without system versioning, algorithm=copy
;;
alter table t1 modify a int with system versioning, algorithm=copy
;;
alter table t1 modify a int without system versioning
;;
alter table t1 modify a int with system versioning
;;
create or replace table t1 (a int, s timestamp(6) as row start, e timestamp(6) as row end, period for system_time(s,e)) engine=myisam with system versioning
;;
alter table t1 force
;;
create or replace table t1 (x int) with system versioning
;;
create or replace table t1 (f1 int) with system versioning
;;
alter table t1 add f2 int with system versioning, drop system versioning
;;
create or replace table t1 (f1 int) with system versioning
;;
drop table t1
;;
create or replace table t (a int) with system versioning engine=innodb
;;
alter table t change column a a int without system versioning, add column b int with system versioning
;;
alter table t change column a new_a int, drop system versioning
;;
alter table t add system versioning
;;
alter table t change column new_a a int without system versioning
;;
alter table t add column c int without system versioning, change column c c int, change column b b int without system versioning
;;
drop table t
;;
create or replace table t1 (a int) with system versioning
;;
drop table t1
;;
create table t1 (a int, b int primary key) with system versioning
;;
alter table t1 drop column b
;;
create or replace table t1 ( a int, b int primary key, row_start timestamp(6) as row start, row_end timestamp(6) as row end, period for system_time(row_start, row_end) ) with system versioning
;;
create or replace table t1 ( a int, b int primary key, row_start timestamp(6) as row start invisible, row_end timestamp(6) as row end invisible, period for system_time(row_start, row_end) ) with system versioning
;;
drop table t1
;;
create or replace table t1 (x int)
;;
drop table t1
;;
create table t1 (pk int, a int, primary key (pk), key (a)) with system versioning
;;
alter table t1 drop pk
;;
drop table t1
;;
create table t1 (pk int, a int, primary key (pk), key (a)) with system versioning
;;
alter ignore table t1 drop pk
;;
drop table t1
;;
create or replace table t1 (a int)
;;
drop table t1
;;
create or replace table t1 (a int) with system versioning
;;
create or replace table t1 ( a int, row_start timestamp(6) as row start invisible, row_end timestamp(6) as row end invisible, period for system_time (row_start, row_end) ) with system versioning
;;
alter table t1 rename column row_start to x
;;
alter table t1 rename column row_end to y
;;
drop table t1
;;

-- from MariaDB/server mysql-test/main/invisible_field.test at commit 1f62a7be2f898af9a8eb960474177e0909856e39
create table t1(abc int primary key, xyz int invisible)
;;
drop table t1
;;
create or replace table t1 (pk int auto_increment primary key invisible, i int)
;;
drop table t1
;;
create table t1(a int invisible, b int)
;;
drop table t1
;;
create table t1(a int , b int invisible , c int invisible auto_increment unique, d blob , e int unique, f int)
;;
drop table t1
;;
create table t1(a int , b int invisible , c int invisible auto_increment unique, d blob , e int unique, f int)
;;
drop table t1
;;
create table t1(a int,abc int as (a mod 3) virtual invisible)
;;
drop table t1
;;
create table t1(abc int primary key invisible auto_increment, a int)
;;
drop table t1
;;
create table t1(abc int)
;;
alter table t1 add column xyz int
;;
alter table t1 modify column abc int
;;
alter table t1 modify column abc int invisible
;;
drop table t1
;;
create table t1(a int , b int invisible , c int invisible auto_increment unique, d blob , e int unique, f int)
;;
create table t2 as select * from t1
;;
drop table t2
;;
create table t2 as select a,b,c,d,e,f from t1
;;
drop table t2,t1
;;
create table t1(a int , b int invisible , c int invisible auto_increment unique, d blob , e int unique, f int)
;;
create table t2(a int , b int invisible , c int invisible , d blob , e int unique, f int)
;;
truncate t2
;;
truncate t2
;;
drop table t1,t2
;;
create table t1(a int , b int invisible , c int invisible auto_increment unique, d blob , e int unique, f int)
;;
drop table t1
;;
create table t1 (a int unique , b int invisible unique, c int unique invisible)
;;
create table t2 as select a,b,c from t1
;;
drop table t1,t2
;;
create table t1 (a int primary key, b int invisible, c int invisible unique)
;;
alter table t1 modify column b int
;;
alter table t1 change column c d int
;;
drop table t1
;;
create table t1(a int unique , invisible int invisible, c int )
;;
alter table t1 change column invisible hid int invisible
;;
drop table t1
;;
CREATE TABLE t1 (b int)
;;
CREATE TABLE t2 (a int invisible) SELECT * FROM t1
;;
CREATE TABLE t3 (b int, a int invisible) SELECT * FROM t1
;;
drop table t1,t2,t3
;;
create table t1 (a int , b int invisible default 3, c int , d int invisible default 6)
;;
drop table t1
;;
create table t1(a int default 5 invisible, b int)
;;
create table t2(a int default (b+11) invisible, b int)
;;
drop table t1,t2
;;
create table t1 (a int invisible, b int, c int)
;;
create table t2 (a int, b int, d int)
;;
drop table t1, t2
;;
CREATE TABLE t1 (c CHAR(3), t TIMESTAMP invisible)
;;
DROP TABLE t1
;;
create or replace table t1 (a int, b int invisible)
;;
truncate table t1
;;
drop table t1
;;
create table t1 (a int, b int invisible)
;;
drop table t1
;;
create table t1( a int, x int default (a), y int default (a) invisible, z int default (33) invisible)
;;
drop table t1
;;

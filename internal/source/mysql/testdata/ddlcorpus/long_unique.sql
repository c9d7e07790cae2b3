-- from MariaDB/server mysql-test/main/long_unique.test at commit d2c16fc608cf013f4a402897db9af4d59e840c7d
create table t1(a blob unique )
;;
truncate table t1
;;
alter table t1 add column b int
;;
alter table t1 drop column b , add column c int
;;
alter table t1 add column db_row_hash_1 int unique
;;
alter table t1 add column db_row_hash_2 int, add column db_row_hash_3 int
;;
alter table t1 drop column a
;;
alter table t1 add column a blob unique
;;
alter table t1 change column a aa blob
;;
alter table t1 modify column aa int
;;
alter table t1 add column clm blob unique
;;
alter table t1 change column clm clm_changed blob
;;
alter table t1 drop key clm
;;
drop table t1
;;
create table t1 (a TEXT CHARSET latin1 COLLATE latin1_german2_ci unique)
;;
drop table t1
;;
create table t1 (a int primary key, b blob unique)
;;
drop table t1
;;
create table t1(a blob unique, b int , c blob unique , d text unique , e varchar(3000) unique)
;;
truncate table t1
;;
alter table t1 add column f int
;;
alter table t1 drop column b , add column g int
;;
alter table t1 add column db_row_hash_1 int unique
;;
alter table t1 add column db_row_hash_2 int unique
;;
alter table t1 add column db_row_hash_3 int unique
;;
alter table t1 add column db_row_hash_7 int, add column db_row_hash_5 int , add column db_row_hash_4 int
;;
alter table t1 drop column db_row_hash_7,drop column db_row_hash_3, drop column db_row_hash_4
;;
alter table t1 drop column a, drop column c
;;
alter table t1 add column a blob unique
;;
alter table t1 modify column a int , modify column e int
;;
alter table t1 add column clm1 blob unique,add column clm2 blob unique
;;
alter table t1 change column clm1 clm_changed1 blob, change column clm2 clm_changed2 blob
;;
alter table t1 drop key clm1, drop key clm2
;;
drop table t1
;;
create table t1(a blob, b int , c varchar(2000) , d text , e varchar(3000) , f longblob , g int , h text , unique(a,b,c), unique(c,d,e),unique(e,f,g,h), unique(b,d,g,h))
;;
alter table t1 add column db_row_hash_7 int , add column db_row_hash_5 int, add column db_row_hash_1 int, add column db_row_hash_2 int
;;
alter table t1 drop column db_row_hash_7 , drop column db_row_hash_5 , drop column db_row_hash_1, drop column db_row_hash_2
;;
alter table t1 change column a aa blob , change column b bb blob , change column d dd blob
;;
alter table t1 change column aa a blob , change column bb b blob , change column dd d blob
;;
alter table t1 modify column a varchar(20) , modify column b varchar(20) , modify column c varchar(20)
;;
alter table t1 modify column a blob , modify column b blob , modify column c blob
;;
truncate table t1
;;
alter table t1 drop key c, drop key e
;;
drop table t1
;;
create table t1 (a blob)
;;
alter table t1 add unique key(a)
;;
alter table t1 drop key a
;;
truncate table t1
;;
alter ignore table t1 add unique key(a)
;;
drop table t1
;;
create table t1(a blob , b blob, c blob , d blob , e int)
;;
alter ignore table t1 add unique key(a,c), add unique key(b,d), add unique key(e)
;;
drop table t1
;;
create table t1 (a blob unique , b blob unique)
;;
create table t2 (DB_ROW_HASH_1 int, DB_ROW_HASH_2 int)
;;
drop table t1,t2
;;
create table t1(a blob, unique(a(3000)))
;;
drop table t1
;;
create table t1(a varchar(4000), b longblob , c varchar(5000), d longblob, unique(a(3500), b), unique(c(4500), d))
;;
drop table t1
;;
create table t1(a int primary key, b blob unique, c int, d blob , index(c))
;;
drop table t1
;;
create table t2 (a blob unique , c int , index(c))
;;
drop table t2
;;
create table t1(a blob unique not null)
;;
drop table t1
;;
create table t1(a int primary key, b blob unique , c blob unique not null)
;;
drop table t1
;;
create table t1 (a blob unique not null, b blob not null, c blob not null, unique(b,c))
;;
drop table t1
;;
create table t1(a blob, unique(a(65535)))
;;
drop table t1
;;
drop table t1
;;
create table t1(a blob , key(a))
;;
drop table t1
;;
create table t1(a blob)
;;
alter table t1 add index(a)
;;
drop table t1
;;
create table t1(a text, key(a))
;;
drop table t1
;;
create table t1(a varchar(4000))
;;
alter table t1 add index(a)
;;
drop table t1
;;
create table t1 (pk int, a int, b int, primary key(pk), key(pk,a))
;;
drop table t1
;;
CREATE TABLE t1 (d varchar(10)) ENGINE=MyISAM
;;
CREATE TABLE t2 (f varchar(10), a2 datetime, b int, a1 varchar(1024), pk int NOT NULL, PRIMARY KEY (pk), UNIQUE KEY (f,a1,a2), KEY f2 (f(4),a2)) ENGINE=MyISAM
;;
drop table t1,t2
;;
CREATE TABLE t1 (a INT, b BLOB) ENGINE=MyISAM
;;
CREATE TABLE t2 (c BIT, d BLOB, UNIQUE(d)) ENGINE=MyISAM
;;
DROP TABLE t1, t2
;;

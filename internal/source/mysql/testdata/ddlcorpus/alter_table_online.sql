-- from MariaDB/server mysql-test/main/alter_table_online.test at commit c4ceb7899d7c33c83c95faa60a78f8e30901dcc8
create table t1 (a int not null primary key, b int, c varchar(80), e enum('a','b'))
;;
alter online table t1 modify b int default 5
;;
alter online table t1 change b new_name int
;;
alter online table t1 modify e enum('a','b','c')
;;
alter online table t1 comment "new comment"
;;
alter online table t1 algorithm=INPLACE, lock=NONE
;;
alter online table t1
;;
alter table t1 algorithm=INPLACE
;;
alter table t1 lock=NONE
;;
drop table t1
;;
alter online table t1 modify b int default 5
;;
alter online table t1 change b new_name int
;;
alter online table t1 modify e enum('a','b','c')
;;
alter online table t1 comment "new comment"
;;
alter online table t1 rename to t2
;;
drop table t2
;;
create table t1 (a int not null primary key, b int, c varchar(80), e enum('a','b'))
;;
alter table t1 engine=innodb
;;
alter table t1 add index (b)
;;
alter online table t1 add index c (c)
;;
alter online table t1 drop index b
;;
alter online table t1 comment "new comment"
;;
drop table t1
;;
alter online table t1 drop column b, add b int
;;
alter online table t1 modify b bigint
;;
alter online table t1 modify e enum('c','a','b')
;;
alter online table t1 modify c varchar(50)
;;
alter online table t1 modify c varchar(100)
;;
alter online table t1 add f int
;;
alter online table t1 engine=memory
;;
alter table t1 engine=innodb
;;
alter table t1 add index (b)
;;
alter online table t1 add index c (c)
;;
alter online table t1 drop index b
;;
drop table t1
;;
create table t1 (a int not null primary key, b int, c varchar(80))
;;
create table t2 (a int not null primary key, b int, c varchar(80))
;;
drop table t1,t2,t3
;;
alter online table t1 comment 'test'
;;
drop table t1
;;
create table t1 (a int)
;;
alter online table t1 modify a int comment 'test'
;;
drop table t1
;;
create table t1 (a int) engine=innodb
;;
alter online table t1 modify a int comment 'test'
;;
drop table t1
;;
alter online table t1 modify a int comment 'test'
;;
drop table t1
;;
CREATE TABLE t1 (a BINARY(10))
;;
ALTER TABLE t1 MODIFY a BINARY(10), ALGORITHM=INPLACE
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a VARBINARY(10))
;;
ALTER TABLE t1 MODIFY a VARBINARY(10), ALGORITHM=INPLACE
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a TINYBLOB)
;;
ALTER TABLE t1 MODIFY a TINYBLOB, ALGORITHM=INPLACE
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a MEDIUMBLOB)
;;
ALTER TABLE t1 MODIFY a MEDIUMBLOB, ALGORITHM=INPLACE
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a BLOB)
;;
ALTER TABLE t1 MODIFY a BLOB, ALGORITHM=INPLACE
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a LONGBLOB)
;;
ALTER TABLE t1 MODIFY a LONGBLOB, ALGORITHM=INPLACE
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a CHAR(10))
;;
ALTER TABLE t1 MODIFY a CHAR(10), ALGORITHM=INPLACE
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a VARCHAR(10))
;;
ALTER TABLE t1 MODIFY a VARCHAR(10), ALGORITHM=INPLACE
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a TINYTEXT)
;;
ALTER TABLE t1 MODIFY a TINYTEXT, ALGORITHM=INPLACE
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a MEDIUMTEXT)
;;
ALTER TABLE t1 MODIFY a MEDIUMTEXT, ALGORITHM=INPLACE
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a TEXT)
;;
ALTER TABLE t1 MODIFY a TEXT, ALGORITHM=INPLACE
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a LONGTEXT)
;;
ALTER TABLE t1 MODIFY a LONGTEXT, ALGORITHM=INPLACE
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a CHAR(10))
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a VARCHAR(10))
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a TINYTEXT)
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a MEDIUMTEXT)
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a TEXT)
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a LONGTEXT)
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a CHAR(10) COLLATE latin1_bin)
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a VARCHAR(10) COLLATE latin1_bin)
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a TINYTEXT COLLATE latin1_bin)
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a MEDIUMTEXT COLLATE latin1_bin)
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a TEXT COLLATE latin1_bin)
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a LONGTEXT COLLATE latin1_bin)
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a CHAR(10) COLLATE latin1_general_ci)
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a VARCHAR(10) COLLATE latin1_general_ci)
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a TINYTEXT COLLATE latin1_general_ci)
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a MEDIUMTEXT COLLATE latin1_general_ci)
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a TEXT COLLATE latin1_general_ci)
;;
DROP TABLE t1
;;
CREATE TABLE t1 (a LONGTEXT COLLATE latin1_general_ci)
;;
DROP TABLE t1
;;
create table t1 (a int, b int, key(b))
;;
alter online table t1 delay_key_write=1
;;
alter online table t1 delay_key_write=0
;;
drop table t1
;;

-- from MariaDB/server mysql-test/main/alter_table.test at commit d5e9f4a81a7b1fc4d3abff7ce39ce2e48ae82a07
drop table if exists t1,t2
;;
create table t1 ( col1 int not null auto_increment primary key, col2 varchar(30) not null, col3 varchar (20) not null, col4 varchar(4) not null, col5 enum('PENDING', 'ACTIVE', 'DISABLED') not null, col6 int not null, to_be_deleted int)
;;
alter table t1 add column col4_5 varchar(20) not null after col4, add column col7 varchar(30) not null after col5, add column col8 datetime not null, drop column to_be_deleted, change column col2 fourth varchar(30) not null after col3, modify column col6 int not null first
;;
drop table t1
;;
create table t1 (bandID MEDIUMINT UNSIGNED NOT NULL PRIMARY KEY, payoutID SMALLINT UNSIGNED NOT NULL)
;;
alter table t1 add column new_col int, order by payoutid,bandid
;;
alter table t1 order by bandid,payoutid
;;
drop table t1
;;
CREATE TABLE t1 ( GROUP_ID int(10) unsigned DEFAULT '0' NOT NULL, LANG_ID smallint(5) unsigned DEFAULT '0' NOT NULL, NAME varchar(80) DEFAULT '' NOT NULL, PRIMARY KEY (GROUP_ID,LANG_ID), KEY NAME (NAME))
;;
ALTER TABLE t1 CHANGE NAME NAME CHAR(80) not null
;;
DROP TABLE t1
;;
create table t1 (n int)
;;
alter table t1 order by n
;;
drop table t1
;;
CREATE TABLE t1 ( id int(11) unsigned NOT NULL default '0', category_id tinyint(4) unsigned NOT NULL default '0', type_id tinyint(4) unsigned NOT NULL default '0', body text NOT NULL, user_id int(11) unsigned NOT NULL default '0', status enum('new','old') NOT NULL default 'new', PRIMARY KEY (id) ) ENGINE=MyISAM
;;
ALTER TABLE t1 ORDER BY t1.id, t1.status, t1.type_id, t1.user_id, t1.body
;;
DROP TABLE t1
;;
CREATE TABLE t1 (AnamneseId int(10) unsigned NOT NULL auto_increment,B BLOB,PRIMARY KEY (AnamneseId)) engine=myisam
;;
ALTER TABLE t1 ADD Column new_col int not null
;;
DROP TABLE t1
;;
create table t1 (i int unsigned not null auto_increment primary key)
;;
alter table t1 drop i,add i int unsigned not null auto_increment, drop primary key, add primary key (i)
;;
drop table t1
;;
create table t1 (name char(15))
;;
create table mysqltest.t1 (name char(15))
;;
drop table t1
;;
create table t1 (n1 int not null, n2 int, n3 int, n4 float, unique(n1), key (n1, n2, n3, n4), key (n2, n3, n4, n1), key (n3, n4, n1, n2), key (n4, n1, n2, n3) )
;;
alter table t1 disable keys
;;
alter table t1 enable keys
;;
drop table t1
;;
create table t1 (i int unsigned not null auto_increment primary key)
;;
alter table t1 rename t2
;;
alter table t2 rename t1, add c char(10) comment "no comment"
;;
drop table t1
;;
create table t1 (a int, b int)
;;
alter table t1 add unique (a,b), add key (b)
;;
drop table t1
;;
CREATE TABLE t1 (i int(10), index(i) ) ENGINE=MyISAM
;;
ALTER TABLE t1 DISABLE KEYS
;;
ALTER TABLE t1 ENABLE KEYS
;;
drop table t1
;;
CREATE TABLE t1 ( Host varchar(16) binary NOT NULL default '', User varchar(16) binary NOT NULL default '', PRIMARY KEY (Host,User) ) ENGINE=MyISAM
;;
ALTER TABLE t1 DISABLE KEYS
;;
ALTER TABLE t1 ENABLE KEYS
;;
DROP TABLE t1
;;
CREATE TABLE t1 ( Host varchar(16) binary NOT NULL default '', User varchar(16) binary NOT NULL default '', PRIMARY KEY (Host,User), KEY (Host) ) ENGINE=MyISAM
;;
ALTER TABLE t1 DISABLE KEYS
;;
ALTER TABLE t1 ENABLE KEYS
;;
ALTER TABLE t1 RENAME t2
;;
DROP TABLE t2
;;
CREATE TABLE t1 ( Host varchar(16) binary NOT NULL default '', User varchar(16) binary NOT NULL default '', PRIMARY KEY (Host,User), KEY (Host) ) ENGINE=MyISAM
;;
ALTER TABLE t1 DISABLE KEYS
;;
DROP TABLE t1
;;
create table t1 (a int)
;;
drop table t1
;;
drop table if exists t1, t2
;;
create table t1 ( a varchar(10) not null primary key ) engine=myisam
;;
alter table t1 modify a varchar(10)
;;
alter table t1 modify a varchar(10) not null
;;
drop table if exists t1, t2
;;
create table t1 (a int, b int, c int, d int, e int, f int, g int, h int,i int, primary key (a,b,c,d,e,f,g,i,h)) engine=MyISAM
;;
alter table t1 modify a int
;;
drop table t1
;;
create table t1 (a int not null, b int not null, c int not null, d int not null, e int not null, f int not null, g int not null, h int not null,i int not null, primary key (a,b,c,d,e,f,g,i,h)) engine=MyISAM
;;
drop table t1
;;
create table t1 (a char(10) character set koi8r)
;;
alter table t1 change a a char(10) character set cp1251
;;
alter table t1 change a a binary(4)
;;
alter table t1 change a a char(10) character set cp1251
;;
alter table t1 change a a char(10) character set koi8r
;;
alter table t1 change a a varchar(10) character set cp1251
;;
alter table t1 change a a char(10) character set koi8r
;;
alter table t1 change a a text character set cp1251
;;
alter table t1 change a a char(10) character set koi8r
;;
alter table t1 DEFAULT CHARACTER SET latin1
;;
alter table t1 CONVERT TO CHARACTER SET latin1
;;
alter table t1 DEFAULT CHARACTER SET cp1251
;;
drop table t1
;;
create table t1 (myblob longblob,mytext longtext) default charset latin1 collate latin1_general_cs
;;
alter table t1 character set latin2
;;
drop table t1
;;
CREATE TABLE t1 (a int PRIMARY KEY, b INT UNIQUE)
;;
ALTER TABLE t1 DROP PRIMARY KEY
;;
DROP TABLE t1
;;
create table t1 (a int, b int, key(a))
;;
alter table t1 drop key a
;;
drop table t1
;;
CREATE TABLE T12207(a int) ENGINE=MYISAM
;;
DROP TABLE T12207
;;
create table t1 (a text) character set koi8r
;;
alter table t1 convert to character set cp1251
;;
drop table t1
;;
create table t1 ( a timestamp )
;;
drop table t1
;;
drop table if exists t1
;;
create table t1 (a int, key(a))
;;
alter table t1 modify a int, disable keys
;;
alter table t1 enable keys
;;
alter table t1 modify a bigint, disable keys
;;
alter table t1 enable keys
;;
alter table t1 add b char(10), disable keys
;;
alter table t1 add c decimal(10,2), enable keys
;;
alter table t1 disable keys
;;
alter table t1 add d decimal(15,5)
;;
drop table t1
;;
create table t1(a int, b char(10), unique(a))
;;
alter table t1 disable keys
;;
alter table t1 enable keys
;;
alter table t1 modify a int, disable keys
;;
alter table t1 modify a bigint, disable keys
;;
alter table t1 modify a bigint
;;
alter table t1 modify a int
;;
drop table t1
;;
create table t1(a int, b char(10), unique(a), key(b))
;;
alter table t1 disable keys
;;
alter table t1 enable keys
;;
alter table t1 modify a int, disable keys
;;
alter table t1 enable keys
;;
alter table t1 modify a bigint, disable keys
;;
alter table t1 modify a int
;;
alter table t1 modify a int
;;
drop table t1
;;
create table t1 (c1 int)
;;
alter table t1 rename mysqltest.t1
;;
alter table mysqltest.t1 rename t1
;;
drop table t1
;;
create table t1 (c1 int)
;;
alter table test.t1 rename test.t1
;;
drop table t1
;;
CREATE TABLE t1(a INT) ROW_FORMAT=FIXED
;;
DROP TABLE t1
;;
DROP TABLE IF EXISTS bug24219
;;
DROP TABLE IF EXISTS bug24219_2
;;
CREATE TABLE bug24219 (a INT, INDEX(a))
;;
ALTER TABLE bug24219 RENAME TO bug24219_2, DISABLE KEYS
;;
DROP TABLE bug24219_2
;;
drop table if exists table_24562
;;
create table table_24562( section int, subsection int, title varchar(50))
;;
alter table table_24562 add column reviewer varchar(20), order by title
;;
alter table table_24562 order by section ASC, subsection DESC
;;
alter table table_24562 order by table_24562.subsection ASC, table_24562.section DESC
;;
drop table table_24562
;;
create table t1 (mycol int(10) not null)
;;
alter table t1 alter column mycol set default 0
;;
drop table t1
;;
create table t1(id int(8) primary key auto_increment) engine=heap
;;
alter table t1 auto_increment = 50
;;
alter table t1 engine = myisam
;;
alter table t1 engine = heap
;;
drop table t1
;;
create table t1(f1 int)
;;
alter table t1 add column f2 datetime not null, add column f21 date not null
;;
alter table t1 add column f4 datetime not null default '2002-02-02', add column f41 date not null default '2002-02-02'
;;
drop table t1
;;
create table t1 (v varchar(32))
;;
alter table t1 change v v2 varchar(32)
;;
alter table t1 change v2 v varchar(64)
;;
alter table t1 add i int auto_increment not null primary key first
;;
alter table t1 change i i bigint
;;
alter table t1 add unique key (i, v)
;;
drop table t1
;;
create table t1 (t varchar(255) default null, key t (t(80))) engine=myisam default charset=latin1
;;
alter table t1 change t t text
;;
drop table t1
;;
CREATE TABLE t1 (a varchar(500))
;;
ALTER TABLE t1 ADD b GEOMETRY NOT NULL, ADD SPATIAL INDEX(b)
;;
ALTER TABLE t1 ADD KEY(b(50))
;;
ALTER TABLE t1 ADD c POINT
;;
ALTER TABLE t1 ADD d INT
;;
DROP TABLE t1
;;
CREATE TABLE t1 (s CHAR(8) BINARY)
;;
ALTER TABLE t1 MODIFY s CHAR(10) BINARY
;;
DROP TABLE t1
;;
CREATE TABLE t1 (s BINARY(8))
;;
ALTER TABLE t1 MODIFY s BINARY(10)
;;
DROP TABLE t1
;;
CREATE TABLE t1 (v VARCHAR(3), b INT)
;;
ALTER TABLE t1 MODIFY COLUMN v VARCHAR(4)
;;
DROP TABLE t1
;;
create table t1 (a tinytext character set latin1)
;;
alter table t1 convert to character set utf8
;;
drop table t1
;;
create table t1 (a mediumtext character set latin1)
;;
alter table t1 convert to character set utf8
;;
drop table t1
;;
drop table if exists t1, t2, t3
;;
create table t1 (i int)
;;
create table t3 (j int)
;;
alter table t1 modify i int default 1
;;
alter table t1 change i c char(10) default "Two"
;;
alter table t1 modify c char(10) default "Three", rename to t2
;;
alter table t2 change c vc varchar(100) default "Four", rename to t1
;;
drop tables t1, t3
;;
DROP TABLE IF EXISTS `t+1`, `t+2`
;;
CREATE TABLE `t+1` (c1 INT)
;;
ALTER TABLE `t+1` RENAME `t+2`
;;
CREATE TABLE `t+1` (c1 INT)
;;
DROP TABLE `t+1`, `t+2`
;;
ALTER TABLE `tt+1` RENAME `tt+2`
;;
DROP TABLE `tt+1`, `tt+2`
;;
CREATE TABLE `#sql1` (c1 INT)
;;
CREATE TABLE `@0023sql2` (c1 INT)
;;
RENAME TABLE `#sql1` TO `@0023sql1`
;;
RENAME TABLE `@0023sql2` TO `#sql2`
;;
ALTER TABLE `@0023sql1` RENAME `#sql-1`
;;
ALTER TABLE `#sql2` RENAME `@0023sql-2`
;;
DROP TABLE `#sql-1`, `@0023sql-2`
;;

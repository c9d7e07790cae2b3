-- from MariaDB/server mysql-test/suite/period/t/create.test at commit 06c57584b377d4d5feaad2d90a826583d4ac91a7
create table t (id int primary key, s date, e date, period for mytime(s,e))
;;
create or replace table t (id int primary key, s timestamp(6), e timestamp(6), period for mytime(s,e))
;;
create or replace table t (x int, s date, e date, period for mytime(s, e), constraint mytime check (x > 1))
;;
drop table t
;;

package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"fieldsync/schemas"
	"fieldsync/server/auth"
	"fieldsync/server/store"
)

// DemoPassword is the password of every demo account. Demo data is for a
// laptop or a staging store, never production.
const DemoPassword = "fieldsync-demo"

const demoFlag = "demo_v1"

// demoPeople is a small Shanghai home-services company.
var (
	demoSupervisors = []string{"王秀英", "李建国"}
	demoWorkers     = []string{"张桂兰", "刘美华", "陈玉梅", "杨淑芬", "赵春燕", "黄丽娟", "周红霞", "吴秀珍"}
	demoCustomers   = []string{
		"林先生", "徐女士", "孙先生", "马女士", "朱先生", "胡女士", "郭先生", "何女士", "高先生", "罗女士",
		"郑先生", "梁女士", "谢先生", "宋女士", "唐先生", "许女士", "韩先生", "冯女士", "邓先生", "曹女士",
	}
)

// seedDemo creates the demo accounts once. Each account is created
// idempotently, so a seed interrupted half way completes on the next start.
func seedDemo(ctx context.Context, db *store.DB, svc *auth.Service, now func() time.Time, log *slog.Logger) error {
	done, err := db.Flag(ctx, demoFlag)
	if err != nil || done {
		return err
	}
	type acct struct {
		login, name string
		role        schemas.Role
		team        string
	}
	var accts []acct
	accts = append(accts, acct{"demo.admin", "演示管理员", schemas.RoleAdmin, ""})
	for i, n := range demoSupervisors {
		accts = append(accts, acct{fmt.Sprintf("supervisor%d", i+1), n, schemas.RoleSupervisor, fmt.Sprintf("team-%d", i+1)})
	}
	for i, n := range demoWorkers {
		accts = append(accts, acct{fmt.Sprintf("worker%d", i+1), n, schemas.RoleWorker, fmt.Sprintf("team-%d", i%2+1)})
	}
	for i, n := range demoCustomers {
		accts = append(accts, acct{fmt.Sprintf("customer%d", i+1), n, schemas.RoleCustomer, ""})
	}
	for _, a := range accts {
		_, err := svc.CreateUser(ctx, schemas.NewUser{Login: a.login, Password: DemoPassword, Name: a.name, Role: a.role, Team: a.team})
		if err != nil && schemas.ErrorCode(err) != schemas.ECONFLICT {
			return err
		}
	}
	if err := db.SetFlag(ctx, demoFlag, now()); err != nil {
		return err
	}
	log.Warn("demo data seeded; every demo account has the same password",
		"password", DemoPassword,
		"logins", "demo.admin, supervisor1-2, worker1-8, customer1-20")
	return nil
}

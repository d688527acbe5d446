package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"fieldsync/schemas"
	"fieldsync/server/auth"
	"fieldsync/server/office"
	"fieldsync/store"
)

// DemoPassword is the password of every demo account. Demo data is for a
// laptop or a staging store, never production.
const DemoPassword = "fieldsync-demo"

const demoFlag = "demo_v2"

// demoID gives demo records fixed ids, so a seed cut short completes on the
// next start without duplicates.
func demoID(kind string, i int) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte(fmt.Sprintf("fieldsync/demo/%s/%d", kind, i))).String()
}

// A small Shanghai home-services company.
var (
	demoSupervisors = []string{"王秀英", "李建国"}
	demoWorkers     = []struct {
		name   string
		gender schemas.Gender
		skills []schemas.Skill
		certs  []string
		years  int
	}{
		{"张桂兰", schemas.GenderFemale, []schemas.Skill{schemas.SkillDailyCleaning, schemas.SkillDeepCleaning, schemas.SkillLaundry}, []string{"health"}, 8},
		{"刘美华", schemas.GenderFemale, []schemas.Skill{schemas.SkillInfantCare, schemas.SkillCooking, schemas.SkillDailyCleaning}, []string{"health", "childcare"}, 6},
		{"陈玉梅", schemas.GenderFemale, []schemas.Skill{schemas.SkillMaternityCare, schemas.SkillInfantCare, schemas.SkillCooking}, []string{"health", "childcare", "maternity_nurse"}, 11},
		{"杨淑芬", schemas.GenderFemale, []schemas.Skill{schemas.SkillElderCare, schemas.SkillCooking, schemas.SkillDailyCleaning}, []string{"health", "elder_care"}, 9},
		{"赵春燕", schemas.GenderFemale, []schemas.Skill{schemas.SkillDailyCleaning, schemas.SkillPetCare, schemas.SkillLaundry}, []string{"health"}, 3},
		{"黄丽娟", schemas.GenderFemale, []schemas.Skill{schemas.SkillCooking, schemas.SkillDailyCleaning, schemas.SkillHousekeeping}, []string{"health"}, 5},
		{"周建华", schemas.GenderMale, []schemas.Skill{schemas.SkillDeepCleaning, schemas.SkillDailyCleaning}, []string{"health"}, 4},
		{"吴秀珍", schemas.GenderFemale, []schemas.Skill{schemas.SkillElderCare, schemas.SkillDailyCleaning, schemas.SkillCooking}, []string{"health", "elder_care"}, 12},
	}
	demoCustomers = []string{
		"林先生", "徐女士", "孙先生", "马女士", "朱先生", "胡女士", "郭先生", "何女士", "高先生", "罗女士",
		"郑先生", "梁女士", "谢先生", "宋女士", "唐先生", "许女士", "韩先生", "冯女士", "邓先生", "曹女士",
	}
	demoDistricts = []struct {
		name     string
		lat, lng float64
	}{
		{"徐汇区", 31.188, 121.437}, {"静安区", 31.229, 121.448}, {"浦东新区", 31.221, 121.544}, {"长宁区", 31.220, 121.424},
		{"黄浦区", 31.231, 121.484}, {"闵行区", 31.112, 121.382}, {"杨浦区", 31.260, 121.526}, {"普陀区", 31.249, 121.397},
	}
	demoServices = []schemas.ServiceTypeInput{
		{Code: "daily_cleaning", Name: "日常保洁", DefaultMinutes: 180, RequiredSkills: []schemas.Skill{schemas.SkillDailyCleaning}, RequiredCertificates: []string{"health"},
			Checklist: []schemas.ChecklistItem{{ID: "kitchen", Text: "厨房台面、灶台、水槽清洁"}, {ID: "bathroom", Text: "卫生间洁具、镜面、地面清洁"}, {ID: "floors", Text: "全屋地面吸尘、拖地"}, {ID: "dusting", Text: "家具表面除尘"}, {ID: "trash", Text: "垃圾分类并带走"}},
			Pricing:   schemas.Pricing{Tiers: []schemas.PriceTier{{Minutes: 120, PriceCents: 10000}, {Minutes: 180, PriceCents: 14000}, {Minutes: 240, PriceCents: 18000}}, PackageDiscountPct: 10, LongTermDiscountPct: 15}, Active: true},
		{Code: "deep_cleaning", Name: "深度保洁", DefaultMinutes: 240, RequiredSkills: []schemas.Skill{schemas.SkillDeepCleaning}, RequiredCertificates: []string{"health"},
			Checklist: []schemas.ChecklistItem{{ID: "range_hood", Text: "油烟机拆洗"}, {ID: "windows", Text: "窗户及轨道清洁"}, {ID: "cabinets", Text: "柜内清洁"}, {ID: "bathroom_descale", Text: "卫生间除垢"}, {ID: "floors", Text: "地面深度清洁"}},
			Pricing:   schemas.Pricing{Tiers: []schemas.PriceTier{{Minutes: 240, PriceCents: 32000}, {Minutes: 360, PriceCents: 45000}}, PackageDiscountPct: 5}, Active: true},
		{Code: "infant_care", Name: "育儿嫂", DefaultMinutes: 480, RequiredSkills: []schemas.Skill{schemas.SkillInfantCare}, RequiredCertificates: []string{"health", "childcare"},
			Checklist: []schemas.ChecklistItem{{ID: "feeding", Text: "按时喂养并记录"}, {ID: "bathing", Text: "洗澡抚触"}, {ID: "bottles", Text: "奶瓶消毒"}, {ID: "baby_laundry", Text: "婴儿衣物单独清洗"}, {ID: "handover", Text: "与家长交接当天情况"}},
			Pricing:   schemas.Pricing{Tiers: []schemas.PriceTier{{Minutes: 480, PriceCents: 40000}}, LongTermDiscountPct: 10}, Active: true},
		{Code: "maternity_care", Name: "月嫂", DefaultMinutes: 600, RequiredSkills: []schemas.Skill{schemas.SkillMaternityCare}, RequiredCertificates: []string{"health", "maternity_nurse"},
			Checklist: []schemas.ChecklistItem{{ID: "mother_meals", Text: "产妇月子餐"}, {ID: "mother_care", Text: "产妇护理"}, {ID: "newborn_care", Text: "新生儿护理"}, {ID: "records", Text: "喂养与睡眠记录"}},
			Pricing:   schemas.Pricing{Tiers: []schemas.PriceTier{{Minutes: 600, PriceCents: 60000}}}, Active: true},
		{Code: "elder_care", Name: "养老陪护", DefaultMinutes: 240, RequiredSkills: []schemas.Skill{schemas.SkillElderCare}, RequiredCertificates: []string{"health", "elder_care"},
			Checklist: []schemas.ChecklistItem{{ID: "vitals", Text: "测量血压并记录"}, {ID: "medication", Text: "提醒按时服药"}, {ID: "meal", Text: "准备清淡午餐"}, {ID: "walk", Text: "陪同散步或康复活动"}, {ID: "safety_check", Text: "检查居家安全隐患"}},
			Pricing:   schemas.Pricing{Tiers: []schemas.PriceTier{{Minutes: 240, PriceCents: 22000}}, LongTermDiscountPct: 10}, Active: true},
		{Code: "home_cooking", Name: "上门做饭", DefaultMinutes: 120, RequiredSkills: []schemas.Skill{schemas.SkillCooking}, RequiredCertificates: []string{"health"},
			Checklist: []schemas.ChecklistItem{{ID: "menu", Text: "与客户确认菜单与忌口"}, {ID: "cooking", Text: "烹饪"}, {ID: "kitchen_cleanup", Text: "厨房清理"}},
			Pricing:   schemas.Pricing{Tiers: []schemas.PriceTier{{Minutes: 120, PriceCents: 9000}}}, Active: true},
	}
)

// seedDemo creates, once, the demo company: accounts, workers, customers,
// the service catalog and recurring schedules, whose visits the generator
// then creates. Every record has a fixed id, so a seed cut short completes
// on the next start.
func seedDemo(ctx context.Context, db *store.Store, svc *auth.Service, off *office.Service, now func() time.Time, log *slog.Logger) error {
	done, err := db.Meta.Flag(ctx, demoFlag)
	if err != nil || done {
		return err
	}
	t := now().UTC()
	insert := func(entity, id string, doc any, write func() error) error {
		err := write()
		if schemas.ErrorCode(err) == schemas.ECONFLICT || errors.Is(err, store.ErrDuplicate) {
			return nil // seeded by an earlier, interrupted run
		}
		if err != nil {
			return err
		}
		return db.Audit.Insert(ctx, &schemas.AuditEntry{ID: schemas.AuditID(entity, id, 1), Entity: entity, EntityID: id,
			Action: "create", Version: 1, ActorID: office.System.UserID, Role: office.System.Role, At: t,
			Changes: schemas.Diff(nil, doc, "phone", "home", "addresses.*.text", "addresses.*.location", "addresses.*.accessNotes", "household"), Note: "demo seed"})
	}
	account := func(login, name string, role schemas.Role, team, workerID, customerID string) error {
		_, err := svc.CreateUser(ctx, schemas.NewUser{Login: login, Password: DemoPassword, Name: name, Role: role, Team: team, WorkerID: workerID, CustomerID: customerID})
		if schemas.ErrorCode(err) != schemas.ECONFLICT {
			return err
		}
		// An account from an older demo seed: link it to its record.
		u, err := db.Accounts.UserByLogin(ctx, login)
		if err != nil {
			return err
		}
		if u.WorkerID != workerID || u.CustomerID != customerID {
			_, err = db.Accounts.UpdateUser(ctx, u.ID, store.UserChanges{WorkerID: &workerID, CustomerID: &customerID})
		}
		return err
	}

	if err := account("demo.admin", "演示管理员", schemas.RoleAdmin, "", "", ""); err != nil {
		return err
	}
	supervisorIDs := make([]string, len(demoSupervisors))
	for i, n := range demoSupervisors {
		login := fmt.Sprintf("supervisor%d", i+1)
		if err := account(login, n, schemas.RoleSupervisor, fmt.Sprintf("team-%d", i+1), "", ""); err != nil {
			return err
		}
		u, err := db.Accounts.UserByLogin(ctx, login)
		if err != nil {
			return err
		}
		supervisorIDs[i] = u.ID
	}

	var services []*schemas.ServiceType
	for i, in := range demoServices {
		if err := in.Validate(); err != nil {
			return err
		}
		st := &schemas.ServiceType{ID: demoID("service", i), ServiceTypeInput: in, Version: 1, CreatedAt: t, UpdatedAt: t}
		if err := insert(schemas.EntityServiceType, st.ID, st, func() error { return db.Office.InsertServiceType(ctx, st) }); err != nil {
			return err
		}
		services = append(services, st)
	}

	issued := t.AddDate(-2, 0, 0).Format(schemas.DateLayout)
	expires := t.AddDate(2, 0, 0).Format(schemas.DateLayout)
	workers := make([]*schemas.Worker, len(demoWorkers))
	for i, dw := range demoWorkers {
		d := demoDistricts[i%len(demoDistricts)]
		team := i%2 + 1
		var certs []schemas.Certificate
		for j, c := range dw.certs {
			certs = append(certs, schemas.Certificate{Type: c, Number: fmt.Sprintf("SH-%s-%04d", c, 100*i+j), Issued: issued, Expires: expires})
		}
		in := schemas.WorkerInput{Name: dw.name, Phone: fmt.Sprintf("+86138%08d", 10000000+i*1111), Gender: dw.gender,
			Languages: []string{"zh", "wuu"}, Skills: dw.skills, Certificates: certs, ExperienceYears: dw.years,
			BackgroundCheck: schemas.BackgroundCheck{Status: schemas.CheckPassed, Date: issued},
			Team:            fmt.Sprintf("team-%d", team), SupervisorID: supervisorIDs[team-1],
			WorkingHours: schemas.WorkingHours{Days: []int{1, 2, 3, 4, 5, 6}, Start: "07:30", End: "20:00"},
			Home:         schemas.LatLng{Lat: d.lat + 0.01*float64(i%3), Lng: d.lng - 0.01*float64(i%2)}, PhotoRef: fmt.Sprintf("demo/worker-%d.jpg", i+1)}
		if err := in.Validate(); err != nil {
			return err
		}
		w := &schemas.Worker{ID: demoID("worker", i), WorkerInput: in, Version: 1, CreatedAt: t, UpdatedAt: t}
		if err := insert(schemas.EntityWorker, w.ID, w, func() error { return db.Office.InsertWorker(ctx, w) }); err != nil {
			return err
		}
		if err := account(fmt.Sprintf("worker%d", i+1), dw.name, schemas.RoleWorker, in.Team, w.ID, ""); err != nil {
			return err
		}
		workers[i] = w
	}

	customers := make([]*schemas.Customer, len(demoCustomers))
	for i, n := range demoCustomers {
		d := demoDistricts[i%len(demoDistricts)]
		in := schemas.CustomerInput{Name: n, Phone: fmt.Sprintf("+86139%08d", 20000000+i*777),
			Addresses: []schemas.Address{{ID: demoID("address", i), Label: "家",
				Text:        fmt.Sprintf("上海市%s示范路%d弄%d号%d室", d.name, 100+i*7, 1+i%12, 101+i*3),
				Location:    schemas.LatLng{Lat: d.lat + 0.004*float64(i%5), Lng: d.lng + 0.003*float64(i%4)},
				AccessNotes: fmt.Sprintf("门禁密码 %04d#，电梯到%d楼", 1000+i*37, 1+i%20)}},
			Team: fmt.Sprintf("team-%d", i%2+1), Locale: "zh-CN"}
		switch i % 5 {
		case 0:
			in.Household = schemas.Household{Elderly: true, Taboos: []string{"不吃辣"}, SpecialNeeds: "老人行动不便，请注意防滑"}
			in.Preferences = schemas.Preferences{WorkerGender: schemas.GenderFemale, MinExperienceYears: 5}
		case 1:
			in.Household = schemas.Household{Infants: true, Allergies: []string{"花生"}}
			in.Preferences = schemas.Preferences{WorkerGender: schemas.GenderFemale, Language: "zh"}
		case 2:
			in.Household = schemas.Household{Pets: []string{"猫"}, Taboos: []string{"清真饮食"}}
		case 3:
			in.Household = schemas.Household{Pets: []string{"狗"}}
			in.Preferences = schemas.Preferences{Language: "wuu"}
		}
		if err := in.Validate(); err != nil {
			return err
		}
		c := &schemas.Customer{ID: demoID("customer", i), CustomerInput: in, Version: 1, CreatedAt: t, UpdatedAt: t}
		if err := insert(schemas.EntityCustomer, c.ID, c, func() error { return db.Office.InsertCustomer(ctx, c) }); err != nil {
			return err
		}
		if err := account(fmt.Sprintf("customer%d", i+1), n, schemas.RoleCustomer, "", "", c.ID); err != nil {
			return err
		}
		customers[i] = c
	}

	// Two morning and one afternoon slot per worker, on different days.
	type slot struct {
		days       []int
		start, end schemas.Clock
	}
	slots := []slot{{[]int{2, 5}, "09:00", "12:00"}, {[]int{1, 4}, "14:00", "17:00"}, {[]int{3, 6}, "09:00", "12:00"}}
	loc, _ := schemas.LoadZone(schemas.DefaultTimeZone)
	startsOn := t.In(loc).Format(schemas.DateLayout)
	for i, c := range customers {
		if i >= 16 {
			break // a few customers order one-off visits only
		}
		wi := i % len(workers)
		w := workers[wi]
		st := services[0]
		for _, s := range services {
			if w.HasSkill(s.RequiredSkills[0]) {
				st = s
				break
			}
		}
		sl := slots[(i/len(workers))%len(slots)]
		sch := &schemas.Schedule{ID: demoID("schedule", i), TimeZone: c.TimeZone, Version: 1, CreatedAt: t, UpdatedAt: t,
			ScheduleInput: schemas.ScheduleInput{CustomerID: c.ID, AddressID: c.Addresses[0].ID, ServiceTypeID: st.ID, WorkerID: w.ID,
				Weekdays: sl.days, StartTime: sl.start, EndTime: sl.end, StartsOn: startsOn}}
		if err := insert(schemas.EntitySchedule, sch.ID, sch, func() error { return db.Schedules.Insert(ctx, sch) }); err != nil {
			return err
		}
	}
	res, err := off.GenerateAll(ctx)
	if err != nil {
		return err
	}
	if err := db.Meta.SetFlag(ctx, demoFlag); err != nil {
		return err
	}
	log.Warn("demo data seeded; every demo account has the same password",
		"password", DemoPassword, "logins", "demo.admin, supervisor1-2, worker1-8, customer1-20",
		"workers", len(workers), "customers", len(customers), "services", len(services), "visitsGenerated", res.Created)
	return nil
}

package app

import (
	"testing"
	"time"
)

func TestSMSConfig(t *testing.T) {
	cfg, err := LoadConfig(env(map[string]string{"FIELDSYNC_SMS_APP_ID": "1400000000", "FIELDSYNC_SMS_SIGN": "保洁",
		"FIELDSYNC_SMS_SECRET_ID": "id", "FIELDSYNC_SMS_SECRET_KEY": "key",
		"FIELDSYNC_SMS_TEMPLATES": "remind_customer_2h=100001, worker_on_the_way=100003"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SMS.Templates["remind_customer_2h"] != "100001" || cfg.SMS.Templates["worker_on_the_way"] != "100003" || cfg.SMS.DailyCap != 3 || cfg.SMS.After != 10*time.Minute || cfg.SMS.Region != "ap-guangzhou" {
		t.Fatalf("sms config %+v", cfg.SMS)
	}
	for _, bad := range []map[string]string{
		{"FIELDSYNC_SMS_TEMPLATES": "complaint=1"}, // not a kind that goes by SMS
		{"FIELDSYNC_SMS_TEMPLATES": "remind_customer_2h"},
		{"FIELDSYNC_SMS_APP_ID": "1400000000"}, // no sign, templates or credentials
		{"FIELDSYNC_SMS_DAILY_CAP": "0"},
	} {
		if _, err := LoadConfig(env(bad)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

package app

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// The sample dashboard and alert rules shipped beside the metrics.
const (
	dashboardFile = "../telemetry/dashboard.json"
	alertsFile    = "../telemetry/alerts.yaml"
)

// ruleFile is the shape of a Prometheus rule file.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// dashboardExprs reads every query of the Grafana dashboard.
func dashboardExprs(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	out := map[string]string{}
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("dashboard panel %q has no query", p.Title)
		}
		for i, tg := range p.Targets {
			out[fmt.Sprintf("panel %q query %d", p.Title, i)] = tg.Expr
		}
	}
	if d.Title == "" || len(out) == 0 {
		t.Fatalf("%s: no title or no queries", dashboardFile)
	}
	return out
}

// alertExprs reads every rule of the alert rules file.
func alertExprs(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true) // a misspelt key is an error, as Prometheus makes it
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	out := map[string]string{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("%s: group %s: a rule without alert or expr", alertsFile, g.Name)
			}
			if r.For != "" {
				if _, err := model.ParseDuration(r.For); err != nil {
					t.Errorf("alert %s: for %q: %v", r.Alert, r.For, err)
				}
			}
			out["alert "+r.Alert] = r.Expr
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no rules", alertsFile)
	}
	return out
}

// exported is every series name the registry gathered: histograms'
// _bucket, _sum and _count, summaries' _sum and _count, as PromQL sees them.
func exported(fams []*dto.MetricFamily) map[string]bool {
	names := map[string]bool{}
	for _, f := range fams {
		n := f.GetName()
		names[n] = true
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			names[n+"_bucket"], names[n+"_sum"], names[n+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			names[n+"_sum"], names[n+"_count"] = true, true
		}
	}
	return names
}

// checkDashboards fails for each dashboard query or alert rule that does
// not tokenize as PromQL or names a metric not in names.
func checkDashboards(t *testing.T, names map[string]bool) {
	t.Helper()
	exprs := dashboardExprs(t)
	for k, v := range alertExprs(t) {
		exprs[k] = v
	}
	for where, expr := range exprs {
		metrics, err := metricNames(expr)
		if err != nil {
			t.Errorf("%s: %v in %q", where, err, expr)
			continue
		}
		if len(metrics) == 0 {
			t.Errorf("%s names no metric: %q", where, expr)
		}
		for _, m := range metrics {
			if !names[m] {
				t.Errorf("%s names %s, which the server does not export", where, m)
			}
		}
	}
}

// PromQL words that are not metric names.
var (
	promqlKeywords = []string{"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "atan2", "inf", "nan", "start", "end"}
	// Aggregations may take their modifier before the parenthesis.
	promqlAggregations = []string{"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio"}
	// Keywords followed by a list of label names in parentheses.
	promqlLabelLists = []string{"by", "without", "on", "ignoring", "group_left", "group_right"}
)

// metricNames returns the metric names a PromQL expression selects. It is
// a tokenizer, not a parser (the Prometheus parser would bring the whole
// prometheus/prometheus module into this one's graph): it skips strings,
// label matchers {…}, ranges […], label lists after by/without/on/…,
// numbers and durations, functions and aggregations (a name before "("
// or an aggregation's modifier), and keywords; what is left is a metric
// name. It reports unbalanced brackets and unterminated strings.
func metricNames(expr string) ([]string, error) {
	var names, stack []string
	isStart := func(c byte) bool { return c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
	isPart := func(c byte) bool { return isStart(c) || '0' <= c && c <= '9' }
	nextNonSpace := func(i int) byte {
		for ; i < len(expr); i++ {
			if c := expr[i]; c != ' ' && c != '\t' && c != '\n' {
				return c
			}
		}
		return 0
	}
	skipTo := func(i int, close byte) (int, error) { // i is past the opener; returns past close
		for ; i < len(expr); i++ {
			switch c := expr[i]; {
			case c == close:
				return i + 1, nil
			case c == '"' || c == '\'' || c == '`':
				j := strings.IndexByte(expr[i+1:], c)
				if j < 0 {
					return 0, fmt.Errorf("unterminated string")
				}
				i += j + 1
			}
		}
		return 0, fmt.Errorf("missing %q", close)
	}
	labelList := false // the previous word takes a list of labels
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			j := strings.IndexByte(expr[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("unterminated string")
			}
			i += j + 2
		case c == '{' || c == '[':
			close := map[byte]byte{'{': '}', '[': ']'}[c]
			j, err := skipTo(i+1, close)
			if err != nil {
				return nil, err
			}
			i = j
		case c == '(' && labelList:
			j, err := skipTo(i+1, ')')
			if err != nil {
				return nil, err
			}
			i, labelList = j, false
		case c == '(':
			stack = append(stack, ")")
			i++
		case c == ')':
			if len(stack) == 0 {
				return nil, fmt.Errorf("unbalanced )")
			}
			stack = stack[:len(stack)-1]
			i++
		case c == '}' || c == ']':
			return nil, fmt.Errorf("unbalanced %c", c)
		case '0' <= c && c <= '9' || c == '.':
			for i < len(expr) && (isPart(expr[i]) || expr[i] == '.') {
				i++ // numbers, durations (5m, 1d), exponents
			}
		case isStart(c):
			j := i
			for j < len(expr) && isPart(expr[j]) {
				j++
			}
			word := expr[i:j]
			next := nextNonSpace(j)
			switch {
			case slices.Contains(promqlLabelLists, word):
				labelList = true
			case slices.Contains(promqlKeywords, word), slices.Contains(promqlAggregations, word):
			case next == '(':
				// a function
			default:
				if !slices.Contains(names, word) {
					names = append(names, word)
				}
			}
			i = j
		default:
			i++
		}
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("unbalanced (")
	}
	return names, nil
}

func TestMetricNamesTokenizer(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string
		bad  bool
	}{
		{expr: `up`, want: []string{"up"}},
		{expr: `sum by (le, op) (rate(a_bucket{op="get",x=~"y|z"}[5m])) > 0.25`, want: []string{"a_bucket"}},
		{expr: `histogram_quantile(0.99, sum without (instance) (rate(b[1h] offset 1d)))`, want: []string{"b"}},
		{expr: `max(c) > 0 and on() sum(increase(d{outcome="sent"}[15m])) == 0`, want: []string{"c", "d"}},
		{expr: `e / ignoring(code) group_left(kind) f`, want: []string{"e", "f"}},
		{expr: `sum(rate(g[5m])) / scalar(sum(h)) * 1e3`, want: []string{"g", "h"}},
		{expr: `sum(rate(g[5m])`, bad: true},
		{expr: `g{a="b}`, bad: true},
		{expr: `g]`, bad: true},
	} {
		got, err := metricNames(c.expr)
		if (err != nil) != c.bad || !c.bad && !slices.Equal(got, c.want) {
			t.Errorf("metricNames(%q) = %v, %v; want %v (error: %v)", c.expr, got, err, c.want, c.bad)
		}
	}
}

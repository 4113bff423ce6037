// Package promtext reads the Prometheus text exposition format far enough
// for tests: every sample by its series ("name{labels}") and every metric's
// help text. (The full parser, prometheus/common/expfmt, returns protobuf
// families; tests want to look series up by the text they expect.)
package promtext

import (
	"bufio"
	"fmt"
	"io"
	"net/http/httptest"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Collect registers cs in a pedantic registry of their own and returns
// their samples as Parse does, read back from the text /metrics would
// serve.
func Collect(cs ...prometheus.Collector) (samples map[string]float64, err error) {
	reg := prometheus.NewPedanticRegistry()
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("promtext: register: %w", err)
		}
	}
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}).
		ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		return nil, fmt.Errorf("promtext: gather: %d %s", rec.Code, rec.Body)
	}
	samples, _, err = Parse(rec.Body)
	return samples, err
}

// Parse returns the samples by series and the help texts by metric name.
func Parse(r io.Reader) (samples map[string]float64, help map[string]string, err error) {
	samples, help = map[string]float64{}, map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
			name, text, _ := strings.Cut(rest, " ")
			help[name] = text
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			return nil, nil, fmt.Errorf("promtext: sample without a value: %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, nil, fmt.Errorf("promtext: sample %q: %w", line, err)
		}
		samples[line[:i]] = v
	}
	return samples, help, sc.Err()
}

// Command server measures one `weir server` running many pipelines (docs/benchmarks.md):
// its resident memory per idle pipeline, its CPU while they idle, and the API's latency
// for list and get under concurrent clients.
//
//	go run ./bench/server [-pipelines 200] [-rate 2] [-clients 20] [-requests 50] [-idle 30s]
//
// It builds weir, starts a server on a private data directory, creates the pipelines
// (datagen → discard, each -rate changes per second after a 100-row snapshot) through the
// API, waits until all are RUNNING in their stream, measures, and stops the server.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	n := flag.Int("pipelines", 200, "pipelines on the server")
	rate := flag.Int("rate", 2, "changes per second of each pipeline")
	clients := flag.Int("clients", 20, "concurrent API clients")
	requests := flag.Int("requests", 50, "requests of each kind per client")
	idle := flag.Duration("idle", 30*time.Second, "how long the CPU at idle is measured")
	flag.Parse()

	dir, err := os.MkdirTemp("", "weir-bench-server")
	check(err)
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "weir")
	build := exec.Command("go", "build", "-o", bin, "./cmd/weir")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	check(build.Run())

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	addr := ln.Addr().String()
	ln.Close()
	srv := exec.Command(bin, "server", "--addr", addr, "--data", filepath.Join(dir, "data"), "--log-level", "warn")
	srv.Stderr = os.Stderr
	check(srv.Start())
	defer srv.Process.Kill()
	base := "http://" + addr
	waitUntil(time.Minute, func() bool { _, err := http.Get(base + "/healthz"); return err == nil })
	time.Sleep(2 * time.Second) // settle before the baseline
	rss0 := rss(srv.Process.Pid)

	start := time.Now()
	for i := range *n {
		file := fmt.Sprintf("source:\n  type: datagen\n  tables: demo.orders\n  rows: 100\n  changes-per-second: %d\n  seed: %d\nsink:\n  type: discard\npipeline:\n  name: p%03d\n  parallelism: 1\n  checkpoint.interval: 5s\n",
			*rate, i+1, i)
		body, _ := json.Marshal(map[string]any{"file": file})
		resp, err := http.Post(base+"/api/v1/pipelines", "application/json", bytes.NewReader(body))
		check(err)
		if resp.StatusCode != http.StatusCreated {
			log.Fatalf("create p%03d: %s", i, resp.Status)
		}
		resp.Body.Close()
	}
	created := time.Since(start)
	waitUntil(5*time.Minute, func() bool {
		var l struct {
			Pipelines []struct{ State, Phase string }
		}
		getJSON(base+"/api/v1/pipelines?state=RUNNING", &l)
		streaming := 0
		for _, p := range l.Pipelines {
			if p.Phase == "stream" {
				streaming++
			}
		}
		return streaming == *n
	})
	allRunning := time.Since(start)
	time.Sleep(5 * time.Second)
	rss1 := rss(srv.Process.Pid)
	cpu0 := cpuSeconds(srv.Process.Pid)
	time.Sleep(*idle)
	cpu1 := cpuSeconds(srv.Process.Pid)
	rss2 := rss(srv.Process.Pid)

	list := latencies(*clients, *requests, func(int) string { return base + "/api/v1/pipelines" })
	get := latencies(*clients, *requests, func(i int) string { return fmt.Sprintf("%s/api/v1/pipelines/p%03d", base, i%*n) })

	srv.Process.Signal(syscall.SIGTERM)
	stopStart := time.Now()
	srv.Wait()
	fmt.Printf("pipelines %d at %d changes/s each (datagen → discard), one server, %s\n", *n, *rate, machine())
	fmt.Printf("created in %s; all streaming %s after the first create\n", created.Round(time.Millisecond), allRunning.Round(time.Millisecond))
	fmt.Printf("RSS: %.1f MiB empty, %.1f MiB with the pipelines (%.1f MiB after %s idle): %.2f MiB per pipeline\n",
		mib(rss0), mib(rss1), mib(rss2), *idle, mib(rss2-rss0)/float64(*n))
	fmt.Printf("CPU while they idle: %.1f%% of one core\n", 100*(cpu1-cpu0)/idle.Seconds())
	fmt.Printf("API, %d clients × %d requests: list p50 %s p99 %s; get p50 %s p99 %s\n", *clients, *requests,
		pct(list, 50), pct(list, 99), pct(get, 50), pct(get, 99))
	fmt.Printf("graceful stop of the server with %d pipelines: %s\n", *n, time.Since(stopStart).Round(time.Millisecond))
}

func latencies(clients, requests int, url func(i int) string) []time.Duration {
	var mu sync.Mutex
	var out []time.Duration
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for r := range requests {
				t := time.Now()
				resp, err := http.Get(url(c*requests + r))
				check(err)
				var sink bytes.Buffer
				sink.ReadFrom(resp.Body)
				resp.Body.Close()
				d := time.Since(t)
				mu.Lock()
				out = append(out, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(out)
	return out
}

func pct(ds []time.Duration, p int) time.Duration {
	return ds[min(len(ds)-1, len(ds)*p/100)].Round(10 * time.Microsecond)
}

func getJSON(url string, v any) {
	resp, err := http.Get(url)
	check(err)
	defer resp.Body.Close()
	check(json.NewDecoder(resp.Body).Decode(v))
}

// rss returns the process's resident set in bytes (VmRSS).
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	check(err)
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpuSeconds returns the process's user + system CPU time.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	check(err)
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func machine() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	cores := strings.Count(string(b), "processor\t:")
	return fmt.Sprintf("%d cores", cores)
}

func waitUntil(d time.Duration, ok func() bool) {
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			log.Fatal("timed out")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

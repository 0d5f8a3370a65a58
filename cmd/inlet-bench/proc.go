package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// server is a process under test: Inlet or the no-op baseline.
type server struct {
	name    string
	url     string // http://127.0.0.1:PORT
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error

	mu      sync.Mutex
	peakRSS int64 // sampled VmRSS, bytes
	stopMon chan struct{}
	monDone chan struct{}
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startServer starts bin with args, its output going to logDir/name.log,
// and waits until GET url+readyPath answers 200.
func startServer(ctx context.Context, name, bin string, args []string, addr, readyPath, logDir string) (*server, error) {
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &server{name: name, url: "http://" + addr, cmd: cmd, logPath: logPath, exited: make(chan struct{}),
		stopMon: make(chan struct{}), monDone: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		logFile.Close()
		close(s.exited)
	}()
	go s.monitor()

	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("%s exited before it was ready (%v); see %s", name, s.waitErr, logPath)
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		default:
		}
		resp, err := client.Get(s.url + readyPath)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("%s not ready after 30s; see %s", name, logPath)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// monitor samples the process's resident memory until stop.
func (s *server) monitor() {
	defer close(s.monDone)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if rss, err := procStatus(s.cmd.Process.Pid, "VmRSS"); err == nil {
			s.mu.Lock()
			s.peakRSS = max(s.peakRSS, rss)
			s.mu.Unlock()
		}
		select {
		case <-t.C:
		case <-s.stopMon:
			return
		case <-s.exited:
			return
		}
	}
}

// PeakRSS returns the highest resident memory of the process so far: the
// kernel's high-water mark (VmHWM), or the highest sample if that is higher
// or unreadable.
func (s *server) PeakRSS() int64 {
	s.mu.Lock()
	peak := s.peakRSS
	s.mu.Unlock()
	if hwm, err := procStatus(s.cmd.Process.Pid, "VmHWM"); err == nil {
		peak = max(peak, hwm)
	}
	return peak
}

// CPUTime returns the user and system CPU time the process has used.
func (s *server) CPUTime() time.Duration {
	_, cpu, _ := pidCPU(s.cmd.Process.Pid)
	return cpu
}

// pidCPU returns the command name of a process and the user and system CPU
// time it has used, from /proc/PID/stat.
func pidCPU(pid int) (comm string, cpu time.Duration, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, false
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	j := bytes.IndexByte(b, '(')
	if i < 0 || j < 0 || j > i {
		return "", 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return "", 0, false
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return string(b[j+1 : i]), time.Duration(utime+stime) * time.Second / ticksPerSecond, true
}

// stop sends SIGTERM and waits for the process, killing it after 30s.
func (s *server) stop() error {
	select {
	case <-s.stopMon:
	default:
		close(s.stopMon)
	}
	<-s.monDone
	select {
	case <-s.exited:
		return s.waitErr
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("%s did not stop within 30s of SIGTERM; killed", s.name)
	}
	return s.waitErr
}

// procStatus reads a "kB" field of /proc/PID/status, in bytes.
func procStatus(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// machineBusy returns the CPU time all cores of the machine have spent
// busy (everything but idle and I/O wait) since boot, from /proc/stat.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(ticks) * time.Second / ticksPerSecond
}

// loadAvg returns the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// fsyncLatency measures how long the file system under dir takes to make a
// small append durable (write 4 KiB, then fsync), n times: the floor of
// every synced commit.
func fsyncLatency(dir string, n int) (latencies, error) {
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	lat := make(latencies, 0, n)
	for range n {
		t := time.Now()
		if _, err := f.Write(buf); err != nil {
			return nil, err
		}
		if err := f.Sync(); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t))
	}
	return lat, nil
}

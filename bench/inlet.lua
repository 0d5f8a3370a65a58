-- wrk script for the Inlet benchmark (run by `go run ./cmd/inlet-bench`).
--
--   INLET_BENCH_MODE=MODE wrk -t2 -c64 -d10s -s bench/inlet.lua http://127.0.0.1:PORT \
--       -- PATH [SESSIONS] [TAG] [THREADS]
--
-- MODE (an environment variable, because wrk decides whether a script builds
-- each request itself when it loads the script, before init sees arguments)
-- is one of:
--   post        POST PATH with a fixed ~300-byte JSON body (scenario 1 and
--               the no-op baseline);
--   known       POST PATH/known-N, N going round robin over 0..SESSIONS-1
--               in every thread, the THREADS threads starting at evenly
--               spaced offsets (scenario 2);
--   new         POST PATH/TAG-tT-N, a session id never sent before: unique
--               per thread T and request N, and per run through TAG
--               (scenario 3);
--   get         GET PATH with 8 query parameters (scenario 4).
--
-- done() prints one line "inlet-bench-result {json}" that inlet-bench reads:
-- completed requests, duration, latency percentiles in microseconds, and
-- wrk's error counters ("status" counts answers with a status of 400 or more).

local body = '{"order_id":"A-100234","customer":{"email":"jane.doe@example.com","name":"Jane Doe","tier":"gold"},' ..
	'"items":[{"sku":"SKU-1001","qty":2,"price":19.99},{"sku":"SKU-2002","qty":1,"price":5.5}],' ..
	'"total":45.48,"currency":"EUR","paid":true,"ts":"2026-11-27T17:30:00Z",' ..
	'"shipping":{"city":"Berlin","zip":"10115","express":false}}'

local query = "?utm_source=newsletter&utm_medium=email&utm_campaign=black-friday" ..
	"&page=%2Fproducts%2Fshoes&ref=home&lang=en&screen=1920x1080&visitor=v-81723"

local threads = {}
local counter = 0

function setup(thread)
	thread:set("tid", #threads)
	table.insert(threads, thread)
end

local mode = os.getenv("INLET_BENCH_MODE") or "post"

function init(args)
	path = args[1] or "/"
	sessions = tonumber(args[2] or "10000")
	tag = args[3] or "run"
	nthreads = tonumber(args[4] or "1")
	headers = {["Content-Type"] = "application/json"}
	if mode == "post" then
		wrk.method = "POST"
		wrk.path = path
		wrk.body = body
		wrk.headers["Content-Type"] = "application/json"
		-- INLET_BENCH_HEADERS: extra "Name: value" lines (inlet-bench --header).
		for line in (os.getenv("INLET_BENCH_HEADERS") or ""):gmatch("[^\n]+") do
			local name, value = line:match("^%s*([^:]+):%s*(.-)%s*$")
			if name then
				wrk.headers[name] = value
			end
		end
	elseif mode == "get" then
		wrk.method = "GET"
		wrk.path = path .. query
	end
end

if mode == "known" or mode == "new" then
	-- request() is defined only for the modes that vary per request; for the
	-- others wrk sends its precomputed request, which costs no Lua per call.
	function request()
		counter = counter + 1
		if mode == "known" then
			local n = (counter + tid * math.floor(sessions / nthreads)) % sessions
			return wrk.format("POST", path .. "/known-" .. n, headers, body)
		end
		return wrk.format("POST", path .. "/" .. tag .. "-t" .. tid .. "-" .. counter, headers, body)
	end
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		'inlet-bench-result {"requests":%d,"duration_us":%d,"bytes":%d,' ..
		'"p50_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f,' ..
		'"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
		summary.requests, summary.duration, summary.bytes,
		latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean,
		e.connect, e.read, e.write, e.status, e.timeout))
end

-- wrk script for benchmarks/webhook_intake.py: POST /webhooks signed as Shopify signs it.
--
-- The HMAC covers only the body, so one body (and one signature) serves every request; each request
-- gets its own X-Shopify-Event-Id / X-Shopify-Webhook-Id: "<run>-t<thread>-<n>", unique across threads.
-- Each wrk thread has its own Lua state: counts are kept per thread and gathered in done() through
-- the thread objects saved in setup(), then printed as one "CXBENCH {json}" line.
--
-- Environment: CX_BENCH_BODY_FILE, CX_BENCH_HMAC, CX_BENCH_SHOP, CX_BENCH_TOPIC, CX_BENCH_API_VERSION,
-- CX_BENCH_RUN (the event id prefix of this run).

local counter = 0
local threads = {}

function setup(thread)
   counter = counter + 1
   thread:set("id", counter)
   table.insert(threads, thread)
end

function init(args)
   local f = assert(io.open(os.getenv("CX_BENCH_BODY_FILE"), "rb"))
   body = f:read("*a")
   f:close()
   prefix = os.getenv("CX_BENCH_RUN") .. "-t" .. id .. "-"
   sent = 0
   answered = 0
   statuses = {}
   headers = {
      ["Content-Type"] = "application/json",
      ["X-Shopify-Topic"] = os.getenv("CX_BENCH_TOPIC"),
      ["X-Shopify-Hmac-Sha256"] = os.getenv("CX_BENCH_HMAC"),
      ["X-Shopify-Shop-Domain"] = os.getenv("CX_BENCH_SHOP"),
      ["X-Shopify-API-Version"] = os.getenv("CX_BENCH_API_VERSION"),
   }
end

function request()
   sent = sent + 1
   local n = prefix .. sent
   headers["X-Shopify-Event-Id"] = "evt-" .. n
   headers["X-Shopify-Webhook-Id"] = "wh-" .. n
   headers["X-Shopify-Triggered-At"] = os.date("!%Y-%m-%dT%H:%M:%S.000000000Z")
   return wrk.format("POST", "/webhooks", headers, body)
end

function response(status, hdrs, resp_body)
   answered = answered + 1
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
   local total_sent, total_answered, by_status = 0, 0, {}
   for _, thread in ipairs(threads) do
      total_sent = total_sent + thread:get("sent")
      total_answered = total_answered + thread:get("answered")
      for status, n in pairs(thread:get("statuses")) do
         by_status[status] = (by_status[status] or 0) + n
      end
   end
   local parts = {}
   for status, n in pairs(by_status) do
      table.insert(parts, string.format('"%s":%d', status, n))
   end
   local e = summary.errors
   io.write(string.format(
      'CXBENCH {"duration_us":%d,"requests":%d,"sent":%d,"answered":%d,"statuses":{%s},' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
      summary.duration, summary.requests, total_sent, total_answered, table.concat(parts, ","),
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end

// SPDX-License-Identifier: Apache-2.0
#include "http/http_exporter.h"

#include <mutex>

#include <curl/curl.h>

#include "falco_json.h"
#include "queued_exporter.h"

namespace bulkhead::exporters {

namespace {

struct HttpOptions {
    std::string url, ca, ca_path, client_cert, client_key, user_agent;
    bool insecure = false;
    long timeout_ms = 5000;
};

size_t discard_body(char*, size_t size, size_t n, void*) {
    return size * n;
}

class HttpDelivery : public Delivery {
public:
    HttpDelivery(HttpOptions o, std::string hostname) : o_(std::move(o)), hostname_(std::move(hostname)) {
        static std::once_flag once;
        std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
        headers_ = curl_slist_append(headers_, "Content-Type: application/json");
    }
    ~HttpDelivery() override {
        reset();
        curl_slist_free_all(headers_);
    }

    std::string format(const events::Event& e) override { return dump_json(falco_json(e, hostname_)); }
    // falcosidekick's input is Falco alerts: it refuses a document without a rule.
    bool carries(const events::Event& e) const override { return !e.rule.empty(); }

    Result<void> send(const std::string& payload) override {
        if (!curl_ && !(curl_ = open()))
            return Error{"http: cannot create a curl handle"};
        char err[CURL_ERROR_SIZE] = {};
        curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, err);
        curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, payload.data());
        curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
        CURLcode rc = curl_easy_perform(curl_);
        if (rc != CURLE_OK)
            return Error{"http: POST " + o_.url + ": " + (err[0] ? err : curl_easy_strerror(rc))};
        long status = 0;
        curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
        // A 4xx other than timeout / too early / rate limit refuses this
        // payload, and would refuse it again; a 5xx is the server's trouble.
        bool permanent = status >= 400 && status < 500 && status != 408 && status != 425 && status != 429;
        if (status < 200 || status > 299)
            return Error{"http: POST " + o_.url + ": the server answered " + std::to_string(status), permanent};
        return {};
    }

    void reset() override {
        if (curl_)
            curl_easy_cleanup(curl_);
        curl_ = nullptr;
    }

private:
    CURL* open() {
        CURL* c = curl_easy_init();
        if (!c)
            return nullptr;
        curl_easy_setopt(c, CURLOPT_URL, o_.url.c_str());
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // a worker thread: no SIGALRM for timeouts
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers_);
        curl_easy_setopt(c, CURLOPT_USERAGENT, o_.user_agent.c_str());
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o_.timeout_ms);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, o_.timeout_ms);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        if (!o_.ca.empty())
            curl_easy_setopt(c, CURLOPT_CAINFO, o_.ca.c_str());
        if (!o_.ca_path.empty())
            curl_easy_setopt(c, CURLOPT_CAPATH, o_.ca_path.c_str());
        if (!o_.client_cert.empty()) {
            curl_easy_setopt(c, CURLOPT_SSLCERT, o_.client_cert.c_str());
            curl_easy_setopt(c, CURLOPT_SSLKEY, o_.client_key.c_str());
        }
        if (o_.insecure) {
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        return c;
    }

    HttpOptions o_;
    std::string hostname_;
    curl_slist* headers_ = nullptr;
    CURL* curl_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<Exporter>> make_http_exporter(const SinkConfig& config, SinkReader& r,
                                                     const Options& options) {
    HttpOptions o;
    o.url = r.required_str("url");
    if (!o.url.empty() && o.url.rfind("http://", 0) != 0 && o.url.rfind("https://", 0) != 0)
        r.fail("url", "expected an http:// or https:// URL, got '" + o.url + "'");
    o.ca = r.str("ca");
    o.ca_path = r.str("ca_path");
    o.client_cert = r.str("client_cert");
    o.client_key = r.str("client_key");
    if (o.client_cert.empty() != o.client_key.empty())
        r.fail(o.client_cert.empty() ? "client_cert" : "client_key",
               "client_cert and client_key go together");
    o.insecure = r.boolean("insecure", false);
    o.timeout_ms = static_cast<long>(r.integer("timeout_ms", 1, 600'000, 5000));
    o.user_agent = r.str("user_agent", "bulkhead/" + options.version);
    if (auto e = r.finish(); !e)
        return Error{e.error()};
    auto made = QueuedExporter::create(config, std::make_unique<HttpDelivery>(o, options.hostname));
    if (!made)
        return Error{made.error()};
    return std::unique_ptr<Exporter>(std::move(made.value()));
}

}  // namespace bulkhead::exporters

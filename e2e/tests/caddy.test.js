// The page through Caddy with the README's Caddyfile (see ../proxy.js).
"use strict";

const { startCaddy } = require("../lib");
const { proxyTests } = require("../proxy");

proxyTests("caddy", startCaddy, [/reverse_proxy 127\.0\.0\.1:\d+ \{\n\s+flush_interval -1\n\s+\}/]);

// The page through nginx with the README's `location` block (see ../proxy.js).
"use strict";

const { startNginx } = require("../lib");
const { proxyTests } = require("../proxy");

proxyTests("nginx", startNginx, [/proxy_buffering off;/, /proxy_set_header Host \$http_host;/]);

'use strict';
// The Lambda@Edge origin-request function of the multi-Region S3 origins blog post
// (../shared/seed/multi-region-s3-origins-blog.txt), as published, for the benchmark only:
// it resolves the X-DNS-ORIGIN TXT record on every call. Lines the stored copy lost (the
// closing braces and the "amazonaws.com" suffix the post's text names) are restored; the
// logic is unchanged.

const dns = require('dns');

exports.handler = (event, context, callback) => {
    const request = event.Records[0].cf.request;

    if ('customHeaders' in request.origin.s3 && 'x-dns-origin' in request.origin.s3.customHeaders) {
        var hostname = request.origin.s3.customHeaders['x-dns-origin'][0].value;
        dns.resolveTxt(hostname, (err, records) => {
            // There was a request to resolve a hostname, but it failed: hard error
            if (err) { throw err }
            const domainName = records[Math.floor(Math.random()*records.length)][0];
            var labels = domainName.split('.');
            if (labels.slice(-2).join('.') != 'amazonaws.com') {
                throw "invalid domainName format";
            }
            const region = labels.slice(-3)[0];
            // Set S3 origin to the values from the DNS record
            request.origin.s3.region = region;
            request.origin.s3.domainName = domainName;
            request.headers['host'] = [{ key: 'host', value: domainName }];
            callback(null, request);
        });
    } else {
        // do nothing
        callback(null, request);
    }
};

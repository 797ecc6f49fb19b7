"""WeCom (企业微信) self-built app: callback crypto, the send API and the input channel."""

"""Training role-play (陪练): the bot plays a client and scores the advisor."""

"""``shardkit bots``: a load generator of many cheap bots that log in, walk, talk and fight."""

# Starts the Autobahn|Testsuite fuzzing server (Python 2.7, autobahntestsuite 0.8.2) on
# 127.0.0.1, port 0, without its web page, and prints "PORT <n>" once it listens.
#   python2 fuzzingserver.py SITE_DIR SPEC_JSON
import json, site, sys
site.addsitedir(sys.argv[1])
from twisted.internet import reactor
from autobahntestsuite.fuzzing import FuzzingServerFactory

spec = json.load(open(sys.argv[2]))
factory = FuzzingServerFactory(spec, False)
port = reactor.listenTCP(0, factory, interface="127.0.0.1")
factory.externalPort = port.getHost().port  # the Host header check compares with this
sys.stdout.write("PORT %d\n" % port.getHost().port)
sys.stdout.flush()
reactor.run()

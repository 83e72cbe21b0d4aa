# offlineimap-phantomfix: name this file in offlineimaprc to make type = PhantomSafeIMAP known:
#
#   [general]
#   pythonfile = /usr/share/offlineimap-phantomfix/activate.py
import offlineimap_phantomfix

offlineimap_phantomfix.install()

"""gunicorn settings for product-service: the shared ones, its app and its port.

Run: gunicorn -c gunicorn.conf.py (the images do).
"""

from servicekit.gunicorn_settings import bind_address, common_settings

globals().update(common_settings())  # gunicorn reads settings as this module's names
wsgi_app = "product_service:create_app()"
bind = bind_address(default_port=5001)
